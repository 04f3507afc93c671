"""viq-host: the generic hosting structure of VIQ.

Importing this package has no side effect: no database is opened, no plugin loaded, no DRMAA touched.
"""

__version__ = "0.1.0"
