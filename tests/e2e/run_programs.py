"""Run several generated programs in one Python process, saving TensorFlow's start-up per run.

Usage: python run_programs.py jobs.json results.json, where jobs.json lists
{"file": path, "argv": [...]} objects. Each program's main(argv) runs in turn; the status of
each ("ok", "exit N" or a traceback) is written to results.json.
"""

import importlib.util
import json
import sys
import traceback


def main() -> None:
    jobs = json.loads(open(sys.argv[1], encoding="utf-8").read())
    results = []
    for index, job in enumerate(jobs):
        spec = importlib.util.spec_from_file_location(f"generated_{index}", job["file"])
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            module.main(job["argv"])
            results.append("ok")
        except SystemExit as exc:
            results.append(f"exit {exc.code}")
        except Exception:  # noqa: BLE001 - reported to the test, which fails on it
            results.append(traceback.format_exc())
        if "keras" in sys.modules:
            sys.modules["keras"].backend.clear_session()
    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)


if __name__ == "__main__":
    main()
