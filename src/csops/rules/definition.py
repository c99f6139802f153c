class RuleError(ValueError):
    pass


def build(data):
    return data
