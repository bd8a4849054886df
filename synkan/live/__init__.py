"""``synkan live``: camera biofeedback for facial retraining.

A local web page shows the camera with the tracked lid margins and mouth
corners, and two bars: the voluntary movement and the involuntary eye
narrowing, both against the person's own rest and in the report's units.
The browser only captures, draws and shows; every number comes from the same
per-frame code as ``synkan analyze`` (:mod:`synkan.live.measure`).

Modules: :mod:`~synkan.live.measure` (one frame measured),
:mod:`~synkan.live.session` (the guided exercise), :mod:`~synkan.live.engine`
(one connection's state), :mod:`~synkan.live.recorder` (recording on
consent), :mod:`~synkan.live.server` (the aiohttp server),
:mod:`~synkan.live.run` (the command).
"""
