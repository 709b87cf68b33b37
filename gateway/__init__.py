"""The public REST ``/v1`` API: authentication, validation, one error model. No business rules."""
