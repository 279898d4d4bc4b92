"""Test-data generators and their oracle, shared by the property tests and ``check-errors --fuzz``.

* :mod:`src.testing.strategies`: Hypothesis strategies for what a view can throw at the error
  handlers (exceptions, exception classes, messages, payloads, status codes).
* :mod:`src.testing.oracle`: what the error contract requires for each such exception (status,
  headers, texts that must not leak).

Both import ``hypothesis`` (a runtime requirement for the fuzzing command); ``anthropic`` is only
imported when an SDK exception is first generated.
"""
