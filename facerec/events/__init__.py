"""Events out: the outbox (facerec.store.outbox) delivered to webhooks and an MQTT broker, by a
deliverer that runs in ``serve``, ``attend`` or ``facerec deliver``."""
