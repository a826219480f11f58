"""thar: a Bottlerocket-compatible host settings API.

Every component is a subpackage (``thar.datastore``, ``thar.apiserver``, ``thar.apiclient``, …);
nothing else is installed at the top level. In the repository each subpackage is a folder at
the root (``datastore/``, ``apiserver/``, …) that ``thar/`` links to, so the checkout imports
exactly what the wheel installs.
"""
