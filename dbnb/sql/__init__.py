"""SQL text: one scanner, statements, placeholders and the values bound to them."""
