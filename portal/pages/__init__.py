"""The owner's pages: connections, connect and callback, a grant's page and its actions."""
