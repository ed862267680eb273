"""Built-in reports, one module each, collected in a registry (user-defined reports join it later)."""
