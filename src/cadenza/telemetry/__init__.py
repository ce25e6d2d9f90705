"""Operations telemetry: Prometheus metrics (`metrics`), JSON logs with a request id (`logs`), and the
request id carried from the API into Celery tasks (`tasks`). The bottom layer: any package may record a
metric or read the request id; this package imports nothing of Cadenza's but `config`."""
