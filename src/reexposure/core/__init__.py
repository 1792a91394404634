"""Layer 1, the core: the camera model (:mod:`.camera`), the networks (:mod:`.model`), weights files
(:mod:`.weights`), array conversions and atomic writes (:mod:`.arrays`, :mod:`.files`) and inference
with the radiance map (:mod:`.infer`). Imports nothing else of the package."""
