from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "scrm.tenancy.authentication.ApiKeyAuthentication"
    name = "apiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "<prefix>.<secret>",
            "description": "An API key created by a tenant admin, sent as `Authorization: Bearer <key>`.",
        }


# Integer bounds that Django derives from the database backend (connection.ops.integer_field_range):
# SQLite reports 64 bits for every integer column, PostgreSQL 16, 32 or 64 by column type.
_BACKEND_INTEGER_MAXIMA = {32767, 2147483647, 9223372036854775807}


def database_independent_integers(result, generator, request, public):
    """Drop backend-derived integer maxima so the schema is the same on SQLite and PostgreSQL.

    The dashboard's API types are generated from this schema and checked in; a schema that changed
    with the database it was generated against would make them look stale on one of the two.
    """

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "integer" and node.get("maximum") in _BACKEND_INTEGER_MAXIMA:
                del node["maximum"]
                if node.get("format") == "int64":
                    del node["format"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result)
    return result
