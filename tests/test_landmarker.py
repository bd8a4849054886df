"""MediaPipe's C result read with numpy equals MediaPipe's own Python conversion, exactly."""
import ctypes

import cv2
import numpy as np
import pytest
from conftest import shared_video

from synkan.measure.landmarker import Landmarker, _face_arrays, face_arrays_from_c, mp_image

VIDEO = "openface_multi_face.avi"  # three people: several faces per result


@pytest.mark.parametrize("num_faces", [1, 3])
def test_c_result_arrays_equal_public_result(model_path, num_faces):
    from mediapipe.tasks.python.vision.face_landmarker import FaceLandmarkerResult, MpFaceLandmarkerResultC

    cap = cv2.VideoCapture(str(shared_video(VIDEO)))
    landmarker = Landmarker(model_path, num_faces=num_faces)
    inner = landmarker._landmarker
    seen = 0
    for i in range(8):
        rgb = cv2.cvtColor(cap.read()[1], cv2.COLOR_BGR2RGB)
        image = mp_image(rgb)
        result = MpFaceLandmarkerResultC()
        inner._lib.MpFaceLandmarkerDetectForVideo(inner._handle, image._image_ptr, None, 1000 + 33 * i, ctypes.byref(result))
        try:  # both conversions of the very same C result
            fast, public = face_arrays_from_c(result), _face_arrays(FaceLandmarkerResult.from_ctypes(result))
        finally:
            inner._lib.MpFaceLandmarkerCloseResult(ctypes.byref(result))
        assert len(fast.faces) == len(public.faces) and fast.names == public.names
        for got, want in zip(fast.faces + fast.blendshapes + fast.matrices, public.faces + public.blendshapes + public.matrices):
            assert got.dtype == np.float32 and np.array_equal(got, want)
        seen += len(fast.faces)
    landmarker.close()
    assert seen >= 8 * min(num_faces, 2)  # faces were found, so the comparison compared something
    assert len(public.names) == 52 and public.faces[0].shape == (478, 3)


def test_landmarker_uses_the_c_reader(model_path):
    """This MediaPipe has the C interface, so tracking takes the fast path (and still finds the face)."""
    rgb = cv2.cvtColor(cv2.VideoCapture(str(shared_video(VIDEO))).read()[1], cv2.COLOR_BGR2RGB)
    landmarker = Landmarker(model_path)
    assert landmarker._read_c is not None
    assert landmarker.detect_arrays(rgb, 0.0).faces[0].shape == (478, 3)
    landmarker.close()
