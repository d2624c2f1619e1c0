import json, sys
from progress_reporter import ProgressReporter  # on PYTHONPATH in every run, from any folder

params = {"names": ["world"]}
if "--params-json" in sys.argv:
    params.update(json.loads(sys.argv[sys.argv.index("--params-json") + 1]))
reporter = ProgressReporter()
names = params["names"]
with reporter.stage("greeting"):
    for i, name in enumerate(names, start=1):
        reporter.report_progress("greeting", 100 * i / len(names), f"Hello, {name}!",
                                 current_item=name, completed_items=i, total_items=len(names))
reporter.log(f"greeted {len(names)} name(s)", level="info")
result = {"greeted": names}
if reporter.json_mode:
    reporter.result(result)  # the runner's form: a result event
else:
    print(json.dumps(result))  # by hand: the script owns stdout
