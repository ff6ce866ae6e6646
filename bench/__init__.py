"""Roomcast's benchmarks: `python -m bench` (what `make bench` runs) writes bench/results/latest.{md,json}.

Each module measures one thing against a baseline taken in the same run:

- ``dynamodb``: requests and capacity units of every command and query, against the minimum the design allows;
- ``fanout``: @connections posts and wall time of the stream processor, against a naive per-comment processor;
- ``e2e``: throughput and SQS-to-WebSocket latency of the local stack, against its own lightest load;
- ``coldstart``: import time of each handler, against ``import boto3``; built sizes, against Lambda's quota;
- ``cleanup``: time and requests to clean up a deleted room, against the fewest requests that can do it.

Benchmarks are measurements, not tests: nothing here fails on a time.
"""
