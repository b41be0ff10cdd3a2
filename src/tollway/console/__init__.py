"""The operator web console at /console: server-rendered pages (Jinja2) over the same
domain services as /admin/v1, static assets vendored in the package, a session
cookie, CSRF tokens and a strict Content-Security-Policy. How to add a page:
README.md beside this file."""
