"""The command line (``python -m tdm1core``): the same core the app uses.

Bad input exits with status 2 and the same message the app shows, no traceback.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from tdm1core.errors import InputError
from tdm1core.settings import Settings

__all__ = ["main", "build_parser"]


def _dump(obj: Any) -> None:
    """JSON on standard output: indented on a terminal, compact when piped (tdm1core.app.output.json_text)."""
    from tdm1core.app.output import json_text

    print(json_text(obj, indent=sys.stdout.isatty()))


def _settings(args: argparse.Namespace, base: Settings | None = None) -> Settings:
    """The settings in force (:func:`tdm1core.app.workflows.settings_in_force`: the database's saved settings where there
    is a database, else the study's) with the options given on the line; ``args.settings_origin`` says which."""
    from tdm1core.app.workflows import settings_in_force, settings_with_profile

    changes: dict[str, Any] = {}
    for name in ("her2_ratio_cutoff", "pik3ca_mutant_cutoff_copies", "reference_min_copies", "min_accepted_droplets",
                 "droplet_volume_nl", "confidence_level"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "ci", None):
        changes["km_ci_method"] = args.ci
    if getattr(args, "concentration_source", None):
        changes["concentration_source"] = args.concentration_source
    if getattr(args, "level", None):
        changes["confidence_level"] = args.level
    aliases = getattr(args, "alias", None) or []
    if aliases:
        pairs = []
        for a in aliases:
            if "=" not in a:
                raise InputError(f"--alias must look like NAME=ASSAY, but was {a!r}.", column="--alias")
            name, assay = a.split("=", 1)
            pairs.append((name, assay))
        changes["target_aliases"] = tuple(pairs)
    db = getattr(args, "db", None)
    origin = ""
    label = getattr(args, "profile", None)
    if label:  # a stored cut-off profile first; cut-offs given on the line then make it "custom (edited from ...)"
        chosen = settings_with_profile(db, label, getattr(args, "profile_db", None), changes)
    else:
        if base is not None:
            origin = "the database's saved settings"
        chosen = settings_in_force(db, changes, base=base, base_origin=origin)
    args.settings_origin = chosen.origin
    return chosen.settings


def _add_settings(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("settings (defaults: the study's)")
    g.add_argument("--her2-cutoff", dest="her2_ratio_cutoff", type=float, help="HER2/EFTUD2 ratio cut-off (1.25)")
    g.add_argument("--pik3ca-cutoff", dest="pik3ca_mutant_cutoff_copies", type=float, help="mutant copies per 20 µL (3)")
    g.add_argument("--reference-min", dest="reference_min_copies", type=float, help="EFTUD2 minimum copies (100)")
    g.add_argument("--min-droplets", dest="min_accepted_droplets", type=int, help="accepted droplets per well (10000)")
    g.add_argument("--droplet-volume", dest="droplet_volume_nl", type=float, help="droplet volume in nL (0.85)")
    g.add_argument("--concentration-source", dest="concentration_source", choices=["recomputed", "exported"],
                   help="recomputed from counts (default) or as exported (per-well droplet volumes)")
    g.add_argument("--alias", action="append", metavar="NAME=ASSAY", help="map a target name to an assay (HER2, EFTUD2, E545K MUT, ...)")
    g.add_argument("--profile", metavar="'NAME vN'", help="a stored cut-off profile (its cut-offs and limits of blank)")
    g.add_argument("--profile-db", metavar="URL", help="the database holding --profile (default: --db, TDM1_DATABASE_URL "
                                                      "or the SQLite file)")


def _print_calls(result: Any) -> None:
    c = result.calls
    h = c.her2
    print(f"Sample {c.sample}  (source: {c.source})")
    ci = f" (95% CI {h.ci.low:.2f}-{h.ci.high:.2f})" if h.ci else ""
    ratio = f"{h.ratio:.2f}" if h.ratio is not None and math.isfinite(h.ratio) else "NA"
    print(f"  HER2/EFTUD2 ratio {ratio}{ci}: {h.call}{' (borderline)' if h.borderline else ''}")
    if h.reference_copies is not None:
        print(f"  EFTUD2 reference: {h.reference_copies:.0f} copies/20 µL")
    for hs in c.pik3ca.hotspots:
        mut = "NA" if hs.mutant_copies is None else f"{hs.mutant_copies:.1f}"
        wt = "NA" if hs.wildtype_copies is None else f"{hs.wildtype_copies:.0f}"
        print(f"  PIK3CA {hs.hotspot}: mutant {mut}, wild-type {wt} copies/20 µL: {hs.result_text}")
    print(f"  PIK3CA mutant: {'yes' if c.pik3ca.any_mutant else ('no' if c.pik3ca.any_mutant is False else 'not evaluable')}")
    print(f"  ER {result.er}, PR {result.pr}")
    print(f"  FLAG: {result.flag.headline}")
    for r in result.flag.reasons:
        print(f"    - {r}")
    for w in c.warnings:
        print(f"  warning: {w}")


def _read_path(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the file: {exc.strerror}.", source=str(path)) from exc


def _is_droplet_path(path: Path) -> bool:
    """A folder, a zip or a per-droplet amplitude file (by its name or its first line)."""
    from tdm1core.app.lab import is_droplet_input

    if path.is_dir() or path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as f:
            head = f.read(400)
    except OSError:
        return False
    return is_droplet_input(head, path.name)


def _droplet_files(path: Path, results: Path | None) -> list[tuple[bytes, str]]:
    """The files of a droplet PATH (one file, a folder's files or a zip) and the results export, as (bytes, name)."""
    if path.is_dir():
        files = [(_read_path(p), p.name) for p in sorted(path.iterdir())
                 if p.is_file() and p.suffix.lower() in (".csv", ".txt", ".xlsx", ".zip")]
        if not files:
            raise InputError("the folder holds no CSV or zip files.", source=str(path))
    else:
        files = [(_read_path(path), path.name)]
    if results is not None:
        files.append((_read_path(results), results.name))
    return files


def _thresholds(args: argparse.Namespace) -> Any:
    from tdm1core.app.lab import parse_thresholds

    return parse_thresholds(getattr(args, "threshold", None))


def cmd_droplets(args: argparse.Namespace) -> int:
    from tdm1core.app.lab import classify_droplets

    settings = _settings(args)
    thresholds = _thresholds(args)
    view = classify_droplets(_droplet_files(Path(args.path), args.results), settings, thresholds,
                             source=Path(args.path).name)
    plate, summary = view.plate, view.summary
    if args.json:
        _dump(list(summary))
        return 0
    print(f"{plate.name}: {len(plate.wells)} well(s), {plate.wells[0].format}; names from {plate.names_source or 'none'}")
    print(f"Droplet classification: {thresholds.describe()}")
    for w in plate.warnings:
        print(f"warning: {w}")
    for r in summary:
        chans = "; ".join(f"{ch} {r['targets'][ch]}: {pos} positive"
                          + (f" (threshold {r['threshold']['values'][ch]:.0f})" if r['threshold']['values'].get(ch) is not None else "")
                          for ch, pos in zip(r["targets"], r["positives"].values()))
        rain = sum(v for v in r["rain"].values() if v)
        print(f"{r['well']}  {r['sample']}: {r['droplets']:,} droplets; {chans}" + (f"; rain {rain:,}" if r["rain"] else ""))
        for w in r["warnings"]:
            print(f"    warning: {w}")
        for f in r.get("qc", []):
            print(f"    QC {f['code']}: {f['message']}")
    return 0


def cmd_call(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import assess_droplets, assess_upload, limits_text, patient_result

    settings = _settings(args)
    path = Path(args.export)
    if args.results is not None or _is_droplet_path(path):  # droplet files: classified here, then the same calls
        assessment, classified = assess_droplets(_droplet_files(path, args.results), settings, _thresholds(args))
    else:
        classified = None
        if args.threshold:
            raise InputError("--threshold applies to droplet files (an amplitude file, a folder or a zip), not to a "
                             "results export, whose droplets were classified by the instrument.", column="--threshold")
        assessment = assess_upload(_read_path(path), path.name, settings)
    export = assessment.export
    calls = list(assessment.calls)
    if args.sample:
        chosen = [c for c in calls if c.sample == args.sample or c.sample.strip() == args.sample.strip()]
        if not chosen:
            raise InputError(f"sample {args.sample!r} is not in the export; it holds {', '.join(c.sample for c in calls)}.",
                             source=export.name, column="Sample")
        calls = chosen
    results = [patient_result(c, args.er, args.pr) for c in calls]
    if args.json:
        out = []
        for r in results:
            d = r.to_dict()
            d["warnings"] = list(export.warnings) + d["warnings"]
            d["input"] = {"file": export.name, "sha256": export.sha256, "format": export.format}
            d["provenance"] = assessment.provenance.to_dict()
            d["settings_origin"] = args.settings_origin
            if classified is not None:  # the droplets behind this sample's calls: each well's threshold and count
                from tdm1core.app.lab import sample_droplet_rows

                d["droplets"] = sample_droplet_rows(classified, r.calls.sample)
            out.append(d)
        _dump(out)
        return 0
    print(f"{export.name}: {export.format}, {len(export.wells)} rows; droplet volume {export.volume_nl:g} nL")
    for line in assessment.provenance.lines():
        print(line)
    for w in export.warnings:
        print(f"warning: {w}")
    for r in results:
        _print_calls(r)
    print(f"Settings: {settings.describe()}")
    print(f"Settings origin: {args.settings_origin}")
    print(limits_text())
    return 0


def cmd_wells(args: argparse.Namespace) -> int:
    from tdm1core.app.lab import well_table

    settings = _settings(args)
    table = well_table(_read_path(args.export), args.export.name, settings)
    export = table.export
    w = export.wells
    if args.json:
        cols = ["well", "sample", "target", "target_type", "channel", "status", "positives", "negatives", "accepted_droplets",
                "concentration", "exported_concentration", "exported_state", "copies_per_20ul", "ci_low", "ci_high",
                "merged", "merged_members", "saturated", "volume_nl"]
        out = []
        for rec in w.to_dict(orient="records"):
            d = {k: rec[k] for k in cols}
            d["warnings"] = [x for x in rec["warnings"].split("\n") if x]  # each one whole sentence
            out.append(d)
        if not args.with_meta:
            _dump(out)  # the contract other programs read: a JSON array of well objects
            return 0
        _dump({"wells": out, "meta": {
            "file": export.name, "sha256": export.sha256, "format": export.format, "encoding": export.encoding,
            "droplet_volume_nl": export.volume_nl, "implied_droplet_volume_nl": export.inferred_volume_nl,
            "warnings": list(export.warnings), "target_map": list(table.target_map),
            "settings": settings.to_dict()}})
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_rows", 10_000, "display.max_columns", 20):
        print(f"{export.name}: {export.format} ({export.encoding}, {export.line_ending}); droplet volume {export.volume_nl:g} nL"
              + (f", implied by the export {export.inferred_volume_nl:.3f} nL" if export.inferred_volume_nl else ""))
        for warn in export.warnings:
            print(f"warning: {warn}")
        print(w[["well", "sample", "target", "channel", "positives", "negatives", "accepted_droplets", "exported_concentration",
                 "concentration", "copies_per_20ul", "warnings"]].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import write_demo_files

    for p in write_demo_files(args.write):
        print(p)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tdm1core.app.workflows import __version__

    parser = argparse.ArgumentParser(prog="python -m tdm1core", description="ctDNA calls and the T-DM1 primary-resistance flag (research use only).")
    parser.add_argument("--version", action="version", version=f"tdm1core {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("call", help="HER2/PIK3CA calls, QC and the flag for the samples of a ddPCR export")
    p.add_argument("export", type=Path, help="a results export, or droplet files: an amplitude file, a folder or a zip")
    p.add_argument("--sample")
    p.add_argument("--er", default="unknown", help="pos | neg | unknown")
    p.add_argument("--pr", default="unknown", help="pos | neg | unknown")
    p.add_argument("--json", action="store_true")
    p.add_argument("--results", type=Path, metavar="EXPORT.csv",
                   help="with droplet files: the plate's results export or sample sheet (sample and target names)")
    p.add_argument("--threshold", help="with droplet files: instrument (default), auto, extreme, or ch1=V,ch2=V (A04:ch1=V for one well)")
    _add_settings(p)
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("droplets", help="classify per-droplet amplitude files (one file, a folder or a zip of a plate)")
    p.add_argument("path", help="an <Plate>_<Well>_Amplitude.csv file, a folder of them, or a zip")
    p.add_argument("--threshold", default="instrument", help="instrument (default), auto, extreme (after ddpcRquant), or ch1=V,ch2=V (A04:ch1=V for one well)")
    p.add_argument("--results", type=Path, metavar="EXPORT.csv", help="the plate's results export or sample sheet (names)")
    p.add_argument("--json", action="store_true", help="a JSON array, one object per well")
    _add_settings(p)
    p.set_defaults(func=cmd_droplets)

    p = sub.add_parser("wells", help="the normalised well table of any ddPCR export")
    p.add_argument("export", type=Path)
    p.add_argument("--json", action="store_true", help="a JSON array of well objects")
    p.add_argument("--with-meta", action="store_true",
                   help="with --json: an object {wells: [...], meta: {format, droplet volume, file warnings, target map, settings}}")
    _add_settings(p)
    p.set_defaults(func=cmd_wells)

    p = sub.add_parser("demo", help="write the built-in synthetic demo files")
    p.add_argument("--write", required=True, metavar="DIR")
    p.set_defaults(func=cmd_demo)

    for register in _EXTENSIONS:
        register(sub)
    return parser


def _demo_cohort(settings: Settings):
    from tdm1core.app.workflows import file_cohort

    made = file_cohort(None, [], settings, demo=True)
    return made.cohort, list(made.exports)


def _load_cohort(args: argparse.Namespace, settings: Settings):
    """The cohort of the files named (or the demo), with each export's calls made once: (cohort, calls, exports)."""
    from tdm1core.app.workflows import file_cohort

    patients = None
    if args.patients:
        path = Path(args.patients)
        patients = (_read_path(path), path.name)
    made = file_cohort(patients, _read_files([Path(p) for p in args.ddpcr or []]), settings, demo=bool(args.demo))
    return made.cohort, list(made.calls), list(made.exports)


def _fmt_p(p: float | None) -> str:
    return "" if p is None or p != p else ("<0.001" if p < 0.001 else f"{p:.3g}")


def cmd_cohort(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import cohort_statistics

    if args.section and not args.json:
        raise InputError("--section chooses a part of the JSON answer.", column="--section", hint="Add --json.")
    user = None
    if args.db:  # the stored cohort with the stored calls for the settings in force (nothing is parsed twice)
        if args.patients or args.demo or args.ddpcr:
            raise InputError("--db reads the stored cohort; give either --db or a patient table (or --demo), not both.",
                             column="--db")
        from tdm1core.app.workflows import cohort_statistics_json, cohort_view, open_store

        store = open_store(args.db, seed=False)
        user = cli_user(store)
        settings = _settings(args, store.saved_settings())
        if args.json:  # the stored statistics for this state of the data (computed and stored when missing)
            text = cohort_statistics_json(store, settings, args.group, tuple(args.table4_column or ()), actor=user,
                                          section=args.section)
            if text is None:
                raise InputError("the database holds no patients yet.", source="database",
                                 hint="Import a patient table: python -m tdm1core import patients TABLE.csv --db URL")
            if sys.stdout.isatty():
                _dump(json.loads(text))
            else:
                print(text)
            return 0
        view = cohort_view(store, settings, actor=user)
        if view.cohort is None:
            raise InputError("the database holds no patients yet.", source="database",
                             hint="Import a patient table: python -m tdm1core import patients TABLE.csv --db URL")
        cohort, calls = view.cohort, view.calls
    else:
        settings = _settings(args)
        cohort, calls, _ = _load_cohort(args, settings)
    st = cohort_statistics(cohort, settings, args.group, tuple(args.table4_column or ()), calls, actor=user)
    if args.json and args.section:
        from tdm1core.app.cohort_service import statistics_text

        print(statistics_text(st, args.section, source=cohort.source, n=cohort.n, notes=list(cohort.notes)))
        return 0
    if args.json:
        if sys.stdout.isatty():
            d = st.to_dict()
            d.update(source=cohort.source, n=cohort.n, notes=list(cohort.notes))
            _dump(d)
        else:  # piped: compact, every table by pandas' C encoder
            print(st.to_json(source=cohort.source, n=cohort.n, notes=list(cohort.notes)))
        return 0
    import pandas as pd

    with pd.option_context("display.width", 200, "display.max_rows", 10_000, "display.max_columns", 20, "display.max_colwidth", 60):
        print(f"Cohort: {cohort.source} ({cohort.n} patients, {cohort.n_ctdna} with ctDNA)")
        for note in cohort.notes:
            print(f"note: {note}")
        print("\nTable 1. Characteristics\n" + st.table1.to_string(index=False))
        print("\nTable 2. Best response (RECIST 1.1)\n" + st.table2.to_string(index=False))
        print("\nTable 3. ctDNA per patient\n" + st.table3.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
        t4 = st.table4.drop(columns="test").assign(p_value=lambda d: d["p_value"].map(_fmt_p))
        print(f"\nTable 4. Primary resistance by characteristic ({st.table4['test'].iloc[-1]})\n" + t4.to_string(index=False))
        p = st.performance
        print(f"\nFlag vs primary resistance: TP {p.tp}, FP {p.fp}, FN {p.fn}, TN {p.tn} (excluded {p.excluded})")
        for name in ("sensitivity", "specificity", "ppv", "npv"):
            print(f"  {name.upper() if len(name) == 3 else name}: {getattr(p, name).format()}")
        print(f"  {p.caveat}")
        print("\nHER2 cut-off table\n" + st.thresholds.to_string(index=False))
        _print_km(st.km, st.km_group)
    print(f"\nSettings: {settings.describe()}")
    return 0


def _print_km(km, group: str | None) -> None:
    from tdm1core.app.workflows import ci_method_label

    print(f"\nKaplan-Meier time to progression (days){' by ' + group if group else ''}; median CI: {ci_method_label(km.ci_method)}")
    for g in km.groups:
        print(f"  {g.group}: n {g.n}, events {g.events}, median {g.median.format()}")
        for a in g.at:
            print(f"    at {a.time:g}: S {a.survival:.4f} (SE {a.std_error:.4f}), at risk {a.n_at_risk}, CI {a.ci_low:.4f}-{a.ci_high:.4f}")
    if km.logrank is not None:
        lr = km.logrank
        print(f"  {lr.test_name}: chi-square {lr.chi2:.4f}, df {lr.df}, p {_fmt_p(lr.p)}")
    if km.excluded:
        print(f"  {km.excluded} row(s) excluded for a missing time, event or group")


def cmd_km(args: argparse.Namespace) -> int:
    """Kaplan-Meier on any CSV."""
    from tdm1core.app.survival_table import km_from_csv

    path = Path(args.table)
    res = km_from_csv(_read_path(path), path.name, args.time, args.event, args.group,
                      Settings(km_ci_method=args.ci, confidence_level=args.level), args.at, landmark=args.landmark)
    if args.json:
        _dump(res.to_dict())
        return 0
    if res.landmark is not None:
        print(f"Landmark at {res.landmark:g} days: {res.landmark_excluded} patient(s) with an event or censored at or "
              "before it are left out; time is counted from the landmark.")
    _print_km(res, args.group)
    return 0


def _num(x: Any, digits: int = 4) -> str:
    return "NA" if x is None or x != x else f"{x:.{digits}g}"


def cmd_cox(args: argparse.Namespace) -> int:
    """A Cox model of any CSV, with its proportional-hazards check (R coxph and cox.zph)."""
    from tdm1core.app.survival_table import cox_from_csv, parse_reference

    path = Path(args.table)
    res = cox_from_csv(_read_path(path), path.name, args.time, args.event, args.covariates.split(","), args.strata,
                       args.ties, parse_reference(args.reference), args.level)
    if args.json:
        _dump(res.to_dict())
        return 0
    print(f"Cox model ({res.ties} ties{', strata ' + res.strata if res.strata else ''}): n {res.n}, events {res.events}")
    print(f"  {'term':28} {'coef':>9} {'SE':>8} {'HR':>8} {'CI':>19} {'p':>8}")
    for c in res.coefficients:
        if not c.estimable:
            print(f"  {c.term:28} hazard ratio not estimable: {c.reason}")
            continue
        print(f"  {c.term:28} {c.coef:9.4f} {c.se:8.4f} {c.hr:8.4f} {_num(c.hr_low):>9}-{_num(c.hr_high):<9} {_fmt_p(c.p):>8}")
    for label, test in (("Likelihood ratio", res.likelihood_ratio), ("Wald", res.wald), ("Score (log-rank)", res.score)):
        print(f"  {label} test: {_num(test.statistic)} on {test.df} df, p {'NA' if test.p is None else _fmt_p(test.p)}")
    print(f"  Concordance: {_num(res.concordance)}")
    if res.ph_test:
        print("  Proportional hazards (cox.zph, KM transform): " + "; ".join(
            f"{p.term} chi-square {p.chisq:.3f} df {p.df} p {_fmt_p(p.p)}" for p in res.ph_test))
    for w in res.warnings:
        print(f"  warning: {w}")
    print(f"  Method: {res.method}.")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    """Serial monitoring: each patient's timeline on T-DM1, classed by monitoring rules v1."""
    from tdm1core.app.monitoring import monitor_files, monitor_stored, timeline_dicts

    if args.db:
        from tdm1core.app.workflows import open_store

        store = open_store(args.db, seed=False)
        result = monitor_stored(store, _settings(args), args.patient, cli_user(store, args.who))
    else:
        if not args.samples or not args.ddpcr:
            raise InputError("give --samples and --ddpcr (or --db URL for the stored data).", column="--samples")
        samples = Path(args.samples)
        events = Path(args.events) if args.events else None
        exports = _read_files([Path(p) for p in args.ddpcr or []])
        result = monitor_files((_read_path(samples), samples.name), exports,
                               (_read_path(events), events.name) if events else None, _settings(args), args.patient)
    if args.json:
        _dump(timeline_dicts(result))
        return 0
    for t in result:
        print(f"{t.patient_id}: baseline {t.baseline_sample or 'none'}, tracking {t.tracking_hotspot or 'none'} "
              f"({t.rules}; {t.unit})")
        for p in t.timepoints:
            print(f"  day {p.days_from_baseline:>4} {p.collection_date} {p.sample_id}: {p.category} ({p.rule})")
        print(f"  first molecular progression {t.first_molecular_progression or '-'}, first radiological "
              f"{t.first_radiological_progression or '-'}, lead time "
              f"{'-' if t.lead_time_days is None else str(t.lead_time_days) + ' days'}")
        for w in t.warnings:
            print(f"  warning: {w}")
    return 0


def cmd_rmst(args: argparse.Namespace) -> int:
    """Restricted mean survival time up to tau per group (R survfit's rmean), with their difference and ratio."""
    from tdm1core.app.survival_table import rmst_from_csv

    path = Path(args.table)
    res = rmst_from_csv(_read_path(path), path.name, args.time, args.event, args.group, args.tau, args.level)
    if args.json:
        _dump(res.to_dict())
        return 0
    print(f"Restricted mean survival time up to tau = {res.tau:g} days")
    for g in res.groups:
        print(f"  {g.group}: n {g.n}, events {g.events}, RMST {g.rmst:.2f} (SE {g.se:.2f}; {res.level:.0%} CI {g.low:.2f}-{g.high:.2f})")
    if res.difference and res.ratio:
        d, r = res.difference, res.ratio
        print(f"  Difference {d.groups[0]} - {d.groups[1]}: {d.estimate:.2f} ({d.low:.2f} to {d.high:.2f}), p {_fmt_p(d.p)}")
        print(f"  Ratio {r.groups[0]} / {r.groups[1]}: {r.estimate:.3f} ({r.low:.3f} to {r.high:.3f})")
    if res.excluded:
        print(f"  {res.excluded} row(s) left out for a missing time, event or group")
    return 0


def _read_files(paths: list[Path], after: str = "") -> list[tuple[bytes, str]]:
    """(bytes, name) of each file; a file that cannot be read is refused with its path."""
    out = []
    for path in paths:
        try:
            out.append((path.read_bytes(), path.name))
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}{after}.", source=str(path)) from exc
    return out


def cmd_limits(args: argparse.Namespace) -> int:
    """LoB/LoD from blank exports (and low positives), optionally stored as a cut-off profile."""
    from tdm1core.app.workflows import save_profile, validate_limits

    settings = _settings(args)
    result = validate_limits(_read_files(args.blanks), settings, _read_files(args.low_positives or []))
    stored = None
    if args.save:
        from tdm1core.app.workflows import open_store

        store = open_store(args.db, seed=False)
        stored = save_profile(store, result, args.save, cli_user(store, args.who))
    if args.json:
        _dump(result.to_dict() | ({"profile": stored.to_dict()} if stored else {}))
        return 0
    print(f"Limits from {result.blank_samples} blank sample(s) in {len(args.blanks)} file(s) (CLSI EP17-A2)")
    for lob, lod in zip(result.lob, result.lod):
        print("  " + lob.describe())
        print("    " + lod.describe())
    if result.her2 is not None:
        print("  " + result.her2.describe())
    for note in result.notes:
        print(f"  note: {note}")
    print(f"Proposed PIK3CA cut-off: {result.proposed_pik3ca_cutoff:g} copies/20 µL (the largest LoD, rounded up); "
          f"HER2 {result.her2_ratio_cutoff:g} and EFTUD2 > {result.reference_min_copies:g} kept.")
    if stored is not None:
        print(f"Stored as cut-off profile {stored.label}.")
    return 0


def _register_research(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("limits", help="limits of blank and detection from blank exports; store them as a cut-off profile")
    p.add_argument("blanks", nargs="+", type=Path, help="results exports of blank samples (every sample is a blank)")
    p.add_argument("--low-positives", nargs="+", type=Path, metavar="EXPORT", help="exports of low-positive samples")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", metavar="NAME", help="store the proposed cut-offs as the next version of this profile")
    p.add_argument("--db", help="database URL for --save (default: TDM1_DATABASE_URL, else the SQLite file)")
    p.add_argument("--who")
    _add_settings(p)
    p.set_defaults(func=cmd_limits)

    p = sub.add_parser("cohort", help="Tables 1-4, the flag's performance and KM for a patient table")
    p.add_argument("patients", nargs="?", help="patient table, CSV or XLSX")
    p.add_argument("--demo", action="store_true", help="use the built-in synthetic demo cohort")
    p.add_argument("--ddpcr", action="append", metavar="EXPORT.csv", help="ddPCR export(s) with the patients' samples")
    p.add_argument("--db", help="the stored cohort of this database (URL), with its saved settings and the options given")
    p.add_argument("--group", default="flag", help="KM grouping column (default: flag)")
    p.add_argument("--table4-column", action="append", help="extra categorical column for Table 4")
    p.add_argument("--ci", choices=["log-log", "log", "plain"], help="CI method of the KM median")
    p.add_argument("--json", action="store_true")
    p.add_argument("--section", help="with --json: only this part (table1, table2, table3, table4, thresholds, performance, "
                                     "km), with the settings, source, size and notes")
    _add_settings(p)
    p.set_defaults(func=cmd_cohort)

    p = sub.add_parser("km", help="Kaplan-Meier and log-rank on any CSV")
    p.add_argument("table")
    p.add_argument("--time", required=True)
    p.add_argument("--event", required=True, help="1/0 or true/false")
    p.add_argument("--group")
    p.add_argument("--ci", choices=["log-log", "log", "plain"], default="log-log")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--at", help="comma-separated times, e.g. 30,90,180")
    p.add_argument("--landmark", type=float, metavar="T",
                   help="landmark analysis: only those event-free and followed beyond T days, time counted from T")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_km)

    p = sub.add_parser("cox", help="Cox proportional-hazards model and its PH check on any CSV (as R coxph, cox.zph)")
    p.add_argument("table")
    p.add_argument("--time", required=True)
    p.add_argument("--event", required=True, help="1/0, true/false or yes/no")
    p.add_argument("--covariates", required=True, help="comma-separated columns: numbers as numbers, text as categories")
    p.add_argument("--strata", help="a column whose levels each have their own baseline hazard")
    p.add_argument("--ties", choices=["efron", "breslow"], default="efron")
    p.add_argument("--reference", action="append", metavar="COL=LEVEL",
                   help="the reference level of a categorical covariate (default: the first in sorted order)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cox)

    p = sub.add_parser("monitor", help="serial ctDNA monitoring: each patient's timeline on T-DM1 (monitoring rules v1)")
    p.add_argument("--samples", help="sample table: patient_id, sample_id, collection_date[, volumes]")
    p.add_argument("--ddpcr", nargs="+", metavar="EXPORT", help="the ddPCR exports with the samples")
    p.add_argument("--db", help="the stored samples, events and exports of this database (URL) instead of files")
    p.add_argument("--who")
    p.add_argument("--events", help="events table: patient_id, event_date, event_type, detail")
    p.add_argument("--patient", help="one patient's timeline")
    p.add_argument("--json", action="store_true")
    _add_settings(p)
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("rmst", help="restricted mean survival time up to tau on any CSV (as R survfit's rmean)")
    p.add_argument("table")
    p.add_argument("--time", required=True)
    p.add_argument("--event", required=True, help="1/0, true/false or yes/no")
    p.add_argument("--group")
    p.add_argument("--tau", type=float, required=True, help="the horizon, in the time column's unit (days)")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_rmst)


def cmd_report(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import cohort_report_pdf, cohort_statistics, file_provenance, patient_report_pdf

    settings = _settings(args)
    if args.kind == "patient":
        from tdm1core.app.workflows import assess_upload, patient_result, release_digest

        if not args.source:
            raise InputError("give the ddPCR export: report patient EXPORT.csv --sample ID ...")
        path = Path(args.source)
        assessment = assess_upload(_read_path(path), path.name, settings)  # the page's use case: demo marked, target map
        calls = list(assessment.calls)
        chosen = [c for c in calls if c.sample == args.sample] if args.sample else calls[:1] if len(calls) == 1 else []
        if not chosen:
            raise InputError(f"name the sample with --sample; the export holds {', '.join(c.sample for c in calls)}.",
                             source=assessment.export.name, column="Sample")
        result = patient_result(chosen[0], args.er, args.pr, args.patient_id, args.collection_date)
        cohort, _ = _demo_cohort(settings)
        provenance = assessment.provenance
        digest = release_digest(result, provenance)
        if (args.fhir or args.released_json) and not args.release:
            raise InputError("a FHIR bundle or released JSON is made of a released report; add --release (and --db).",
                             column="--fhir")
        if args.release:  # a reviewer's release: stored as the next version, immutable; the PDF written is the released one
            from tdm1core.app.workflows import open_store, release_result, released_files

            store = open_store(args.db, seed=False)
            released = release_result(store, result, provenance, cohort.ratio_points(), who=cli_user(store, args.who),
                                      reviewed=args.reviewed)
            pdf = store.released_pdf(released.stamp.report_id, released.stamp.version) or b""
            print(f"released report {released.stamp.report_id} version {released.stamp.version} ({released.stamp.status})"
                  + ("; changes: " + "; ".join(released.stamp.changes) if released.stamp.replaces else ""))
            bundle, content = released_files(released, pdf)
            if args.fhir:
                _write(Path(args.fhir), json.dumps(bundle, indent=1).encode("utf-8"))
                print(args.fhir)
            if args.released_json:
                _write(Path(args.released_json), json.dumps(content, indent=1, default=str).encode("utf-8"))
                print(args.released_json)
        else:
            pdf = patient_report_pdf(None, result, provenance, cohort.ratio_points(), pagesize=args.pagesize)
            print(f"content SHA-256 {digest} (a reviewer releases exactly this with --release --reviewed {digest})")
    else:
        args.patients, args.ddpcr = args.source, args.ddpcr
        cohort, calls, exports = _load_cohort(args, settings)
        stats = cohort_statistics(cohort, settings, calls=calls)
        pdf = cohort_report_pdf(None, cohort, stats, file_provenance(cohort, exports), pagesize=args.pagesize)
    _write(Path(args.output), pdf)
    print(args.output)
    print(f"Settings origin: {args.settings_origin}")
    return 0


def _write(path: Path, data: bytes) -> None:
    """Write an output file whole, or say in one line why it cannot be (a folder, a full disk, no permission)."""
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name for the output.", source=str(path), column="-o")
    try:
        path.write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write the file: {exc.strerror or exc}.", source=str(path),
                         hint="Check the path, the permissions and the free disk space.") from None


def _register_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="PDF reports: 'report patient EXPORT.csv ...' or 'report cohort PATIENTS.csv|--demo ...'")
    p.add_argument("kind", choices=["patient", "cohort"])
    p.add_argument("source", nargs="?", help="patient: the ddPCR export; cohort: the patient table (or --demo)")
    p.add_argument("--sample")
    p.add_argument("--er", default="unknown")
    p.add_argument("--pr", default="unknown")
    p.add_argument("--patient-id")
    p.add_argument("--collection-date")
    p.add_argument("--demo", action="store_true")
    p.add_argument("--ddpcr", action="append", metavar="EXPORT.csv")
    p.add_argument("--pagesize", choices=["A4", "letter"], default="A4")
    p.add_argument("--release", action="store_true", help="patient: release it (reviewers) as the next version "
                                                          "of its report in --db; the PDF written is the released one")
    p.add_argument("--db", help="with --release: the database URL (default: TDM1_DATABASE_URL, else the SQLite file)")
    p.add_argument("--who", help="with --release: who releases (default: TDM1_USER or the login name)")
    p.add_argument("--reviewed", metavar="SHA256", help="with --release: the content SHA-256 you reviewed (printed by "
                                                        "'report patient' without --release); any other content is refused")
    p.add_argument("--fhir", metavar="FILE.json", help="with --release: write the FHIR R4 Bundle of the released report")
    p.add_argument("--released-json", metavar="FILE.json", help="with --release: write the released result as JSON "
                                                                 "(tdm1core/schemas/released_result.schema.json)")
    p.add_argument("-o", "--output", required=True)
    _add_settings(p)
    p.set_defaults(func=cmd_report)


def _import_settings(args: argparse.Namespace, db: str | None) -> Settings:
    """The database's saved settings, with ``--date-order`` when given."""
    from tdm1core.app.workflows import settings_in_force

    order = getattr(args, "date_order", None)
    return settings_in_force(db, {"date_order": order} if order else None).settings


def cli_user(store: Any, who: str | None = None) -> Any:
    """Who runs this command (:func:`tdm1core.app.workflows.command_line_user`)."""
    from tdm1core.app.workflows import command_line_user

    return command_line_user(store, who)


def cmd_import(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import import_exports, import_patients, open_store, preview_patients, refresh_statistics

    store = open_store(args.db, seed=False)
    user = cli_user(store, args.who)
    settings = _import_settings(args, store.url)
    status = 0
    paths: list[Path] = []
    wanted = (".json", ".ndjson") if args.kind == "fhir" else (".csv", ".txt", ".xlsx")
    for given in args.files:
        path = Path(given)
        if path.is_dir():  # a folder: every export (or FHIR file) in it, in name order
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in wanted)
            if not found:
                raise InputError(f"the folder holds no {' or '.join(wanted)} file.", source=str(path))
            paths += found
        else:
            paths.append(path)
    contents = _read_files(paths, "; nothing was stored")
    if args.kind == "fhir":
        return _import_fhir(store, contents, settings, user, args)
    if args.kind in ("samples", "events"):
        from tdm1core.app.monitoring import import_serial_tables

        for item in contents:
            n_samples, n_events = import_serial_tables(store, item if args.kind == "samples" else None,
                                                       item if args.kind == "events" else None, settings, user)
            print(f"{item[1]}: stored {n_samples} sample(s) and {n_events} event(s).")
        return status
    if args.kind == "ddpcr":
        # one transaction: every file is stored, or (when any is refused) none, and the error says so
        results = import_exports(store, contents, settings, user)
        del contents
        if len(results) <= 20:
            for result in results:
                print(result.message)
        else:  # a registry import: a summary, not thousands of lines
            stored = [r for r in results if not r.duplicate]
            print(f"Stored {len(stored)} of {len(results)} file(s): {sum(r.counts.get('wells', 0) for r in stored)} well "
                  f"rows, {sum(r.counts.get('samples', 0) for r in stored)} sample(s); "
                  f"{len(results) - len(stored)} already stored (same SHA-256), unchanged.")
    else:
        for data, name in contents:
            if args.preview:
                preview, _ = preview_patients(store, data, name, settings, user)
                print(f"{name}: {preview.summary()} (preview only; nothing stored)")
                changes = preview.changes_table()
                if len(changes):
                    print(changes.to_string(index=False))
                continue
            print(import_patients(store, data, name, settings, user).message)
        if args.preview:
            return status
    refresh_statistics(store)  # what 'cohort --db URL --json' answers with, for the saved settings, made once now
    return status


def _import_fhir(store: Any, contents: list[tuple[bytes, str]], settings: Any, user: Any, args: argparse.Namespace) -> int:
    """All the FHIR files given are one import (a Bundle, or a Bulk Data export's NDJSON files)."""
    from tdm1core.app.fhir import FhirOptions, import_fhir, preview_fhir
    from tdm1core.app.workflows import refresh_statistics

    defaults = FhirOptions()
    options = FhirOptions(args.patient_id_system or None, args.sample_id_system or defaults.sample_id_system,
                          defaults.course_gap_days if args.course_gap_days is None else args.course_gap_days)
    preview = preview_fhir(store, contents, settings, options, user)
    print(f"{preview.name}: {preview.summary()}")
    for line in options.lines():
        print(f"  {line}")
    for u in preview.mapping.unmapped[:50]:
        print(f"  not mapped: {u}")
    if len(preview.mapping.unmapped) > 50:
        print(f"  … and {len(preview.mapping.unmapped) - 50} more not mapped")
    for kind, n in sorted(preview.mapping.not_read.items()):
        print(f"  not read: {n} {kind}")
    changes = preview.patients.changes_table()
    if len(changes):
        print(changes.to_string(index=False))
    if args.preview:
        print("(preview only; nothing stored)")
        return 0
    print(import_fhir(store, contents, settings, options, user).message)
    refresh_statistics(store)
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import open_store

    store = open_store(args.db, seed=False)
    user = cli_user(store, args.who)
    return _DB_ACTIONS[args.action](store, user, args)


def _db_roles(store: Any, user: Any, args: argparse.Namespace) -> int:
    """List the roles table, or give --email exactly --set ROLES (the first admin by the database's operator)."""
    from tdm1core.app.workflows import roles_table, set_roles_from_command_line

    if args.email is not None:
        roles = (args.set or "").replace(",", " ").split()
        previous, new = set_roles_from_command_line(store, args.email, roles, user)
        print(f"{args.email.strip().lower()}: {previous or 'no roles'} -> {new or 'no roles'}")
        return 0
    for row in roles_table(store, user):
        print(f"{row['email']}: {row['roles']} (set by {row['updated_by']} at {row['updated_at']})")
    return 0


def _db_status(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import database_status

    status = database_status(store, user).to_dict()
    if args.json:
        _dump(status)
    else:
        for k, v in status.items():
            print(f"{k}: {v}")
    return 0


def _db_export(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import export_database

    if not args.directory:
        raise InputError("give the directory: db export DIR")
    for p in export_database(store, args.directory, user):
        print(p)
    return 0


def _db_seed_demo(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import seed_demo

    print("seeded the synthetic demo" if seed_demo(store) else "not seeded: the database is not empty or was seeded before")
    return 0


def _db_remove_demo(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import demo_removal_plan, remove_demo

    plan = demo_removal_plan(store, user)
    if not plan.files and not plan.patients:
        print("no synthetic demo data in the database; nothing removed")
        return 0
    if not args.yes:
        answer = ""
        if sys.stdin is not None and sys.stdin.isatty():
            answer = input(f"Remove {plan.summary()}? Type 'yes' to confirm: ").strip().lower()
        if answer != "yes":
            print(f"not removed: would remove {plan.summary()}. Confirm with --yes.", file=sys.stderr)
            return 1
    print(f"removed {remove_demo(store, user).summary()}")
    return 0


def _db_audit(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.workflows import read_audit_log

    df = read_audit_log(store, user, args.limit)
    if args.json:
        _dump(df.astype(str).to_dict("records"))
    else:
        print(df.to_string(index=False))
    return 0


def _print_backup(done: Any, args: argparse.Namespace, line: str) -> int:
    """A backup or a restore as JSON (``--json``) or as one line."""
    if args.json:
        _dump(done.to_dict())
    else:
        print(line)
    return 0


def _db_backup(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.admin import backup_database

    if not args.directory:
        raise InputError("give the backup's new file: db backup FILE", column="FILE")
    done = backup_database(store, args.directory, user)
    return _print_backup(done, args, f"backed up {sum(done.rows.values())} rows of {len(done.rows)} tables "
                                     f"({done.method}) to {done.path}: {done.size} bytes, SHA-256 {done.sha256}")


def _db_restore(store: Any, user: Any, args: argparse.Namespace) -> int:
    from tdm1core.app.admin import restore_database

    if not args.directory:
        raise InputError("give the backup file: db restore FILE [--force]", column="FILE")
    done = restore_database(store, args.directory, args.force, user)
    return _print_backup(done, args, f"restored {sum(done.rows.values())} rows of {len(done.rows)} tables from "
                                     f"{done.path} (SHA-256 {done.sha256}; {done.method}); schema {done.revision}")


_DB_ACTIONS = {"status": _db_status, "export": _db_export, "audit": _db_audit, "seed-demo": _db_seed_demo,
               "remove-demo": _db_remove_demo, "roles": _db_roles, "backup": _db_backup, "restore": _db_restore}


def _register_store(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import ddPCR exports or a patient table into the database")
    p.add_argument("kind", choices=["ddpcr", "patients", "samples", "events", "fhir"],
                   help="samples / events: serial monitoring's sample table and events table; fhir: a FHIR Bundle "
                        "(.json) or a Bulk Data export folder (.ndjson files) of patient data (docs/fhir.md)")
    p.add_argument("files", nargs="+")
    p.add_argument("--db", help="database URL (default: TDM1_DATABASE_URL, else SQLite at TDM1_DB_PATH)")
    p.add_argument("--who", help="who is importing (default: TDM1_USER or the login name)")
    p.add_argument("--preview", action="store_true", help="patients: show what would change, store nothing")
    p.add_argument("--date-order", choices=["DMY", "MDY"], help="patients: read DD/MM/YYYY (DMY) or MM/DD/YYYY (MDY) dates")
    p.add_argument("--patient-id-system", help="fhir: the identifier system of the pseudonymous patient ID "
                                               "(default: Patient.id)")
    p.add_argument("--sample-id-system", help="fhir: the identifier system of the ctDNA sample ID on a Specimen")
    p.add_argument("--course-gap-days", type=int, help="fhir: days between T-DM1 records that start a new course (90)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("db", help="database status, export, backup and restore, audit log, demo data, roles")
    p.add_argument("action", choices=list(_DB_ACTIONS))
    p.add_argument("directory", nargs="?", help="export: the new folder; backup: the new file; restore: the backup file")
    p.add_argument("--db")
    p.add_argument("--who")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int)
    p.add_argument("--yes", action="store_true", help="remove-demo: confirm without asking")
    p.add_argument("--force", action="store_true", help="restore: replace a database that holds data")
    p.add_argument("--email", help="roles: the user whose roles --set gives (the first admin of a shared database can be "
                                   "set by its operator)")
    p.add_argument("--set", help="roles: the roles, e.g. 'clinician researcher' (empty: no role)")
    p.set_defaults(func=cmd_db)


def cmd_login(args: argparse.Namespace) -> int:
    """Sign in with the app's identity provider (authorization code + PKCE, loopback redirect)."""
    from tdm1core.app.signin import client_config, login, token_path

    def show(url: str) -> None:
        print(f"Open this address to sign in (waiting up to {args.timeout:g} s):\n{url}", flush=True)
        if not args.no_browser:
            import webbrowser

            webbrowser.open(url)

    claims = login(client_config(args.secrets), show, args.timeout)
    print(f"signed in as {claims.get('email') or claims.get('sub')}; token kept in {token_path()} (0600) until it expires")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from tdm1core.app.signin import logout, token_path

    print(f"signed out: {token_path()} deleted" if logout() else "not signed in: nothing to delete")
    return 0


def _register_signin(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("login", help="sign in for commands on a shared database (the app's identity provider)")
    p.add_argument("--secrets", help="the app's secrets file with [auth] (default: TDM1_SECRETS_FILE, .streamlit/secrets.toml)")
    p.add_argument("--no-browser", action="store_true", help="print the address only")
    p.add_argument("--timeout", type=float, default=300, help="seconds to wait for the sign-in (300)")
    p.set_defaults(func=cmd_login)
    p = sub.add_parser("logout", help="delete the command line's saved sign-in")
    p.set_defaults(func=cmd_logout)


_EXTENSIONS: list = [_register_research, _register_report, _register_store, _register_signin]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:  # a folder that cannot be written, a full disk, a path that is not a file: one line
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"error: cannot use the file system{where}: {exc.strerror or exc}. Check the path, the permissions and "
              "the free disk space.", file=sys.stderr)
        return 2
    except Exception as exc:  # database errors at the boundary: one line, no SQL parameters, exit 2
        from sqlalchemy.exc import SQLAlchemyError

        if isinstance(exc, SQLAlchemyError):
            print(f"error: {database_error_message(exc)}", file=sys.stderr)
            return 2
        import os

        if os.environ.get("TDM1_DEBUG"):
            raise
        # a defect, not the user's input: one line naming its kind (no data quoted), never a traceback
        print(f"error: an internal error ({type(exc).__name__}) stopped the command. Each write is one transaction: "
              "it completed before this or did not happen. Please report it with the command you ran (TDM1_DEBUG=1 "
              "shows the details).", file=sys.stderr)
        return 3


def database_error_message(exc: Exception) -> str:
    """A database error as one line that names the kind of failure and never quotes data."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    kind = type(getattr(exc, "orig", None) or exc).__name__
    if isinstance(exc, OperationalError):
        first = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200] if str(getattr(exc, "orig", exc)).strip() else kind
        return (f"database: cannot use the database ({first}). Check the URL (--db or TDM1_DATABASE_URL) and that the "
                "server is running and reachable.")
    if isinstance(exc, DBAPIError):
        return f"database: the database refused the change ({kind}); nothing was stored."
    return f"database: {kind}."
