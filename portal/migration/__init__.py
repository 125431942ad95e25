"""Bringing existing customers over (issue 17): import files, authtoken conversion, invitations.

So far: :mod:`portal.migration.csv_rows`, the validation of an import file (no writes).
"""
