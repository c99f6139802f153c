from csops.core.configuration import ConfigKind, register
from csops.programs.models import Program

register(ConfigKind("programs", Program, fields=("description", "active"), order=50))
