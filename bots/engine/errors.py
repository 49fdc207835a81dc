"""The engine's one error: invalid input, with the field it belongs to."""


class EngineValidationError(ValueError):
    """Input the engine cannot work with; `errors` maps each field name to its messages.

    Build it for one field (`field=..., message=...`) or for several (`errors={...}`); the Django
    layer turns it into a 400 whose `errors` object is this mapping.
    """

    def __init__(
        self,
        *,
        field: str | None = None,
        message: str | None = None,
        errors: dict[str, list[str]] | None = None,
    ) -> None:
        collected: dict[str, list[str]] = {
            key: list(value) for key, value in (errors or {}).items()
        }
        if field is not None and message is not None:
            collected.setdefault(field, []).append(message)
        if not collected:
            raise TypeError("EngineValidationError needs field and message, or errors")
        self.errors = collected
        self.field, messages = next(iter(collected.items()))
        self.message = messages[0]
        super().__init__("; ".join(f"{key}: {' '.join(msgs)}" for key, msgs in collected.items()))
