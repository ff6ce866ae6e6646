"""Single-use connection tokens: the first $connect with a token id records it, any later one is refused."""

from __future__ import annotations

from botocore.exceptions import ClientError

from roomcast.adapters.dynamodb import keys
from roomcast.adapters.dynamodb.base import Table, error_code, translated


class DynamoTokens(Table):
    def spend(self, token_id: str, expires_at: int) -> bool:
        """True the first time ``token_id`` is spent; the record expires (TTL) once the token would anyway."""
        try:
            with translated():
                self.client.put_item(
                    TableName=self.table_name,
                    Item={"PK": keys.token_pk(token_id), "SK": keys.SPENT, "ExpiresAt": expires_at},
                    # Conditional: two handshakes racing with one token cannot both win.
                    ConditionExpression="attribute_not_exists(PK)",
                )
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
            return False
        return True
