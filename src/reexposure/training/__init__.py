"""Layer 4, training: training pairs (:mod:`.data`), losses (:mod:`.losses`), YAML configs
(:mod:`.config`) and the training loop (:mod:`.trainer`). Imports core, formats and eval."""
