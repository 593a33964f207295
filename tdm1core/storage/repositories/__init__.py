"""The store's repositories, one per stored concept, each over :class:`tdm1core.storage.engine.Engine`."""
