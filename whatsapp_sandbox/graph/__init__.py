"""Placeholder façade (filled in by the next commit)."""



class _Facade:
    name = "graph"

    def __init__(self, sb):
        self.sb = sb

    def reset(self):
        pass

    def tick(self):
        pass

    def on_message(self, msg):
        pass

    def on_edit(self, msg, action_id):
        pass

    def on_revoke(self, msg):
        pass

    def view(self):
        return []
GraphFacade = _Facade
