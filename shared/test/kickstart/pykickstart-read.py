"""What pykickstart reads in each kickstart named on the command line, as JSON on standard output:
its packages, exclusions, groups and %post scripts. pykickstart does not follow %include here and
reports unknown commands and sections as warnings, so every real kickstart reads."""
import json
import sys
import warnings

from pykickstart.constants import KS_MISSING_IGNORE, KS_SCRIPT_POST
from pykickstart.parser import KickstartParser
from pykickstart.version import makeVersion

out = {}
for path in sys.argv[1:]:
    handler = makeVersion()
    parser = KickstartParser(handler, followIncludes=False, errorsAreFatal=False, missingIncludeIsFatal=False, unknownSectionIsFatal=False)
    errors = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parser.readKickstart(path)
        except Exception as e:  # pylint: disable=broad-except
            errors.append(str(e))
    p = handler.packages
    out[path] = {
        "errors": errors,
        "packages": sorted(p.packageList),
        "excluded": sorted(p.excludedList),
        "groups": sorted(g.name for g in p.groupList),
        "excludedocs": bool(p.excludeDocs),
        "ignoremissing": p.handleMissing == KS_MISSING_IGNORE,
        "post": [{"line": s.lineno, "nochroot": not s.inChroot, "interp": s.interp, "log": s.logfile, "body": s.script}
                 for s in handler.scripts if s.type == KS_SCRIPT_POST],
    }
json.dump(out, sys.stdout)
