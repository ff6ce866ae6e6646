"""What Roomcast talks to: DynamoDB (by aggregate), API Gateway's @connections, boto3 clients, secrets."""
