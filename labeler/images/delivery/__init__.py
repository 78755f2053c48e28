"""Links and served bytes: signed addresses of stored files, which bytes each user is
served (original, stripped or blurred copy), the responses, and derived files kept for
serving (converted copies, explanations)."""
