"""Layer 2, file formats: photo and radiance codecs (:mod:`.io`), Ultra HDR gain-map JPEGs
(:mod:`.ultrahdr`), exposure-sweep videos (:mod:`.video`), contact sheets (:mod:`.viz`) and the
one list of extensions (:mod:`.extensions`). Imports only :mod:`reexposure.core`."""
