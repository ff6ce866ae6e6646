"""Where events enter: the SQS command intake, the stream batch, the WebSocket routes."""
