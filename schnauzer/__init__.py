"""schnauzer: Bottlerocket's template format (TOML frontmatter + Handlebars body) and its helpers."""
