"""Task tables generated from declarations, and the checked-in examples in schemas/examples."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from jobs_support import CalibDark, DarkParams

from viq_host.jobs import tasktable, xsd
from viq_host.jobs.examples import ExampleDarkSignal, example_job_order
from viq_host.jobs.reader import read_job_order
from viq_host.jobs.xmlsafe import parse_xml_bytes

MAX = 1_048_576


def test_checked_in_examples_are_not_stale() -> None:
    """schemas/examples/* equal what the code generates; regenerate with the printed command when this fails."""
    stale = tasktable.stale_examples()
    assert not stale, f"stale examples {stale}: run `{tasktable.REGENERATE}`"
    assert tasktable.main(["--check"]) == 0


def test_task_table_is_valid_and_carries_the_declaration() -> None:
    """The task table of the test processor is XSD-valid and states ports, counts, types and parameter bounds."""
    data = tasktable.task_table_xml(CalibDark)
    tree = parse_xml_bytes(data, "<task table>", max_bytes=MAX)
    assert xsd.issues(tree, xsd.TASK_TABLE_XSD) == []
    root = tree.getroot()
    decl = CalibDark.declaration
    assert root.findtext("Processor_Name") == decl.name and root.findtext("Processor_Version") == decl.version
    task = root.find("List_of_Tasks/Task")
    assert task is not None
    inputs = task.findall("List_of_Inputs/Input")
    assert [i.findtext("Input_ID") for i in inputs] == [p.name for p in decl.inputs]
    for node, port in zip(inputs, decl.inputs, strict=True):
        assert [a.findtext("File_Type") for a in node.iterfind("List_of_Alternatives/Alternative")] == list(
            port.product_types
        )
        assert node.findtext("Mandatory") == str(port.mandatory).lower()
        assert int(node.findtext("Min_Count") or -1) == port.min_count
        assert node.findtext("Max_Count") == str(port.max_count)
    schema = DarkParams.model_json_schema()["properties"]
    params = {p.findtext("Name"): p for p in task.iterfind("List_of_Proc_Parameters/Proc_Parameter")}
    assert list(params) == list(DarkParams.model_fields)
    assert float(params["threshold"].findtext("Maximum") or "nan") == schema["threshold"]["maximum"]
    assert float(params["iterations"].findtext("Minimum") or "nan") == schema["iterations"]["minimum"]
    assert params["iterations"].findtext("Default") == str(DarkParams().iterations)
    assert [v.text for v in params["mode"].iterfind("List_of_Allowed_Values/Value")] == ["mean", "median"]
    assert [g.findtext("File_Type") for g in task.iterfind("List_of_GIPPs/GIPP")] == ["GIP_NOISMO"]


def test_example_job_order_reads_back_to_its_source() -> None:
    """The checked-in example job order is XSD-valid and reads back to example_job_order()."""
    path = tasktable.examples_dir() / "job_order_example.xml"
    order = read_job_order(path, max_bytes=MAX)
    expected = example_job_order()
    assert order.model_dump(exclude={"source", "inputs", "outputs", "gipps", "parameters"}) == expected.model_dump(
        exclude={"source", "inputs", "outputs", "gipps", "parameters"}
    )
    assert [(i.port, i.file_names) for i in order.inputs] == [(i.port, i.file_names) for i in expected.inputs]
    assert [(p.name, p.value) for p in order.parameters] == [(p.name, p.value) for p in expected.parameters]
    assert ExampleDarkSignal.Parameters.model_validate(
        {"sigma_clip": "2.5", "method": "mean", "bands": ["B03", "B04"]}
    )


def test_regenerate_repairs_a_stale_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--check fails and names the regenerate command on a stale example; --regenerate repairs it."""
    copy = tmp_path / "schemas"
    shutil.copytree(xsd.schemas_dir(), copy)
    (copy / "examples" / "task_table_example.xml").write_text("<stale/>")
    monkeypatch.setattr(tasktable, "examples_dir", lambda: copy / "examples")
    assert tasktable.stale_examples() == ["task_table_example.xml"]
    assert tasktable.main(["--check"]) == 1
    assert tasktable.REGENERATE in capsys.readouterr().err
    assert tasktable.main(["--regenerate"]) == 0
    assert tasktable.stale_examples() == []
