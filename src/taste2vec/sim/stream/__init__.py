"""Stream test tooling: the batch oracle (:mod:`.reference`), the event generator
(:mod:`.generate`) and a local Kafka-compatible broker (:mod:`.tansu`)."""
