"""The whole pipeline against facenet-pytorch 2.6.0 on the 807 photos of LFW fold 1.

Their pipeline: MTCNN() defaults, crop 160 x 160 with margin 0, fixed standardisation, the
CASIA-WebFace network (../shared/reference/irv1_casia_embeddings.npz). The reference's notes say
"the most probable face", but MTCNN()'s default is select_largest=True, and its vectors show it:
on the photos of fold 1 with several faces they match the largest face, not the most probable
(e.g. Robert_Evans_0002, Roy_Moore_0005). So we take the largest too. Ours, with the same
settings, must give nearly the same vector for every photo.
"""

from __future__ import annotations

import numpy as np
import pytest

from facerec.detection.mtcnn import MTCNN, native
from facerec.embedding.embedder import Embedder, Preprocessing
from facerec.images import load_image

pytestmark = pytest.mark.slow  # pytest -m "not slow" leaves it out (docs/setup.md)

# Cosine similarity between our vector and theirs. Measured with the torch networks: median
# 1.0000000 and worst image 0.9999999 (to float32 rounding); the bounds leave room for rounding on
# other CPUs only. ONNX Runtime rounds differently in the last bits, which can flip a near-tie in
# the detector's NMS and move a box by a pixel: measured on 1 photo of 807 (Bertrand_Bonello_0001,
# box 1.04 px higher, cosine 0.9974), every other photo as with torch. So with ONNX Runtime at most
# 2 photos may move, and by no more than a pixel's worth. torch's own kernels are chosen by the
# CPU (oneDNN dispatches on AVX-512 / AMX): on a CPU with AMX the torch networks flip the same
# near-tie on the same photo (cosine 0.99742), so torch gets the same allowance.
# facerec's C P-Net (the default on the CPU with ONNX Runtime where it is built) rounds differently again:
# its maps are as close to a float64 P-Net's as ONNX Runtime's are (about 1e-6), yet on
# Howard_Stern_0001 its regression, 6e-7 from ONNX Runtime's, moves a candidate's crop window by a
# whole pixel, and the box ends 1.3-1.8 px away (cosine 0.9830; the detection parity test's IoU
# there 0.960, within its 0.95); the float64 P-Net keeps ONNX Runtime's box. Bertrand_Bonello_0001
# moves as with the others. So the C P-Net is allowed the same 2 photos, one of them further.
# (P-Net on ONNX Runtime, where the kernel is not built, is held to 0.995 by this test there, and
# its detections to the reference's everywhere by test_detector_parity.py.)
MEDIAN_AT_LEAST = 0.99999
WORST_AT_LEAST = {"torch": 0.995, "onnx": 0.98 if native.kernel() else 0.995}
MOVED_AT_MOST = {"torch": 2, "onnx": 2}


@pytest.fixture(scope="module")
def reference_lfw(reference):
    data = np.load(reference / "irv1_casia_embeddings.npz")
    assert len(data["lfw_nofaces"]) == 0
    return list(data["lfw_files"]), data["lfw_embeddings"]


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_pipeline_matches_facenet_pytorch_on_lfw_fold1(backend, data, reference_lfw):
    files, theirs = reference_lfw
    detector = MTCNN(backend=backend)
    # facenet-pytorch does not centre: compare the network's own vectors, in fp32 (int8 has its own bounds)
    preprocessing = Preprocessing(margin=0, align="crop", flip=False)
    embedder = Embedder(preprocessing=preprocessing, backend=backend, centre=False, precision="fp32")
    ours = []
    for name in files:
        image = load_image(data / name)
        face = max(detector.detect(image), key=lambda f: f.area)
        ours.append(embedder.embed_faces(image, [face])[0])
    cosine = np.sum(np.asarray(ours) * theirs, axis=1)
    worst = files[int(cosine.argmin())]
    print(f"807 photos: median cosine {np.median(cosine):.8f}, worst {cosine.min():.8f} ({worst})")
    assert len(files) == 807
    assert np.median(cosine) >= MEDIAN_AT_LEAST
    assert cosine.min() >= WORST_AT_LEAST[backend]
    assert np.sum(cosine < 0.9999) <= MOVED_AT_MOST[backend]
