"""The ward page: a small server-rendered site that ward managers and the team reach by link.

``links`` signs and checks the links (no passwords), ``views`` reads what a page shows,
``app`` serves the pages and turns each form into one of the programme's commands.
"""
