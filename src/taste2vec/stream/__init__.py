"""The stream layer: app events, a durable event log, and the stream worker's aggregates.

``events`` defines what flows; ``log`` stores it (embedded SQLite or Kafka);
the worker turns it into windowed aggregates and per-user signals.
"""
