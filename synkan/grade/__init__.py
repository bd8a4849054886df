"""Grade: from signals to voluntary movements, coupling, grades and clinical scales.

``series`` (time-series primitives shared by the stages) -> ``events``
(blinks, closures, smiles, puckers) -> ``movements`` (named voluntary
movements; ``protocols`` maps them to a recorded sequence) -> ``coupling``
(driver vs responder per side) -> ``grades`` (side difference, grade,
eFACE ocular) -> ``matrix`` (every movement x region) -> ``scales``
(Sunnybrook and eFACE synkinesis estimates).
"""
