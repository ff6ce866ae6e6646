"""``roomcast``: the command line of a Roomcast stack, the local one (``make run``) or a deployed one (``--stack``).

Installed with ``pip install "roomcast[cli]"``. One module per verb group; each imports what its verb
needs only when it runs, so ``roomcast --help`` and the publishing verbs start fast.
"""
