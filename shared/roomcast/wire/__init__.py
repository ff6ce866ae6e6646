"""The public shapes of the WebSocket API: what clients send, the frames they get, history cursors."""
