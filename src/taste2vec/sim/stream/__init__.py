"""Stream test tooling: the batch oracle (:mod:`.reference`) and the event generator
(:mod:`.generate`)."""
