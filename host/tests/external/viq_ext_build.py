"""Builders of the task tables, scripts and C program the external-processor tests run (no pytest fixtures here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

SHELL_PROCESSOR = r"""#!/bin/sh
# A task-table processor in POSIX shell: reads its job order (Job_Order or Ipf_Job_Order), counts the bytes of
# its input, writes "<bytes> <scale>" to the output directory and logs ICD lines. MODE selects a misbehaviour.
set -eu
jo="$1"
node=$(hostname | cut -d. -f1)
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%S.000000) ${node:-localhost} t-shell 01.00 t-shell [$$]: [$1] $2"; }
if grep -q '<Ipf_Job_Order' "$jo"; then
  input=$(sed -n '/<List_of_File_Names/,/<\/List_of_File_Names>/s:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo" \
    | head -1)
  outdir=$(sed -n '/<Output>/,/<\/Output>/s:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo" | head -1)
  pfile=$(sed -n '/<Parameter_File>/,/<\/Parameter_File>/s:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo")
  scale=$(sed -n 's:.*<scale>\(.*\)</scale>.*:\1:p' "$pfile")
  mode=$(sed -n 's:.*<mode>\(.*\)</mode>.*:\1:p' "$pfile")
  dialect=Ipf_Job_Order
else
  input=$(sed -n 's:.*<File_Name>\(.*\)</File_Name>.*:\1:p' "$jo" | head -1)
  outdir=$(sed -n 's:.*<File_Dir>\(.*\)</File_Dir>.*:\1:p' "$jo" | head -1)
  scale=$(sed -n '/<Name>scale<\/Name>/{n;s:.*<Value>\(.*\)</Value>.*:\1:p;}' "$jo")
  mode=$(sed -n '/<Name>mode<\/Name>/{n;s:.*<Value>\(.*\)</Value>.*:\1:p;}' "$jo")
  dialect=Job_Order
fi
case "$mode" in
  nolog) n=$(wc -c < "$input"); echo "$n $scale" > "$outdir/sum_VIQ_TSTREP.txt"; exit 0 ;;
  garbage) echo "starting up, no timestamp"; echo "[I] half an ICD line"; log I "one good line" ;;
  hang) log I "sleeping forever"; sleep 600 ;;
  fail) log E "cannot read the input"; exit 134 ;;
  *) ;;
esac
log I "read $dialect $jo; input $input"
log P "50% counting"
n=$(wc -c < "$input")
if [ "$mode" != nooutput ]; then
  echo "$n $scale" > "$outdir/sum_VIQ_TSTREP.txt"
fi
log P "100% done"
if [ "$mode" = warn ]; then log W "degraded"; exit 3; fi
exit 0
"""

C_PROCESSOR = r"""
/* A task-table processor in C: reads its Job_Order, sums the bytes of its input file, multiplies by the
   parameter "factor" and writes the sum to <File_Dir>/csum_VIQ_TSTREP.txt, with ICD log lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void logline(char level, const char *msg) {
    char stamp[32];
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", gmtime(&now));
    printf("%s.000000 cnode t-csum 01.00 t-csum [%d]: [%c] %s\n", stamp, (int)getpid(), level, msg);
    fflush(stdout);
}

/* Copy the text of the first <tag>...</tag> found after `from` into out; return a pointer after it. */
static const char *element(const char *from, const char *tag, char *out, size_t size) {
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(from, open);
    if (!a) return NULL;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b || (size_t)(b - a) >= size) return NULL;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return b + strlen(close);
}

int main(int argc, char **argv) {
    if (argc != 2) { logline('E', "usage: t-csum JOB_ORDER"); return 128; }
    FILE *jo = fopen(argv[1], "rb");
    if (!jo) { logline('E', "cannot open the job order"); return 128; }
    static char doc[1 << 20];
    size_t len = fread(doc, 1, sizeof doc - 1, jo);
    fclose(jo);
    doc[len] = '\0';
    char input[4096], outdir[4096], value[256], msg[8300];
    const char *inputs = strstr(doc, "<List_of_Inputs");
    if (!inputs || !element(inputs, "File_Name", input, sizeof input)) {
        logline('E', "mandatory input missing from the job order");
        return 134;
    }
    if (!element(doc, "File_Dir", outdir, sizeof outdir)) { logline('E', "no File_Dir"); return 128; }
    double factor = 1.0;
    const char *p = strstr(doc, "<Name>factor</Name>");
    if (p && element(p, "Value", value, sizeof value)) factor = atof(value);
    snprintf(msg, sizeof msg, "input %s, factor %g", input, factor);
    logline('I', msg);
    FILE *in = fopen(input, "rb");
    if (!in) { logline('E', "cannot open the input"); return 134; }
    unsigned long long sum = 0;
    int c;
    while ((c = fgetc(in)) != EOF) sum += (unsigned char)c;
    fclose(in);
    logline('P', "50% summed");
    char path[8300];
    snprintf(path, sizeof path, "%s/csum_VIQ_TSTREP.txt", outdir);
    FILE *out = fopen(path, "w");
    if (!out) { logline('E', "cannot write the output"); return 148; }
    fprintf(out, "%.6f\n", (double)sum * factor);
    fclose(out);
    logline('P', "100% done");
    return 0;
}
"""


def task_table(
    name: str,
    executable: str,
    *,
    dialect: str = "Job_Order",
    walltime: str = "PT60S",
    parameters: str = "",
    input_type: str = "VIQ_TSTDAT",
    output_pattern: str = "sum_*.txt",
    samples: str = "",
) -> str:
    """Task Table XML of a one-input, one-output external test processor."""
    n_params = parameters.count("<Proc_Parameter>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Task_Table schemaName="VIQ-Task-Table" schemaVersion="1.0">
  <Processor_Name>{name}</Processor_Name>
  <Processor_Version>01.00</Processor_Version>
  <Description>External test processor {name}.</Description>
  <List_of_Tasks count="1">
    <Task>
      <Task_Name>{name}</Task_Name>
      <Task_Version>01.00</Task_Version>
      <Executable>{executable}</Executable>
      <Job_Order_Dialect>{dialect}</Job_Order_Dialect>
      <Resources>
        <Number_of_CPU_Cores>1</Number_of_CPU_Cores>
        <Amount_of_RAM_MiB>64</Amount_of_RAM_MiB>
        <Disk_Space_MiB>16</Disk_Space_MiB>
        <Walltime>{walltime}</Walltime>
      </Resources>
      <Retry>
        <Max_Attempts>1</Max_Attempts>
        <Retry_On_Exit_Codes>152</Retry_On_Exit_Codes>
        <Rerunnable>true</Rerunnable>
        <Backoff_Seconds>0</Backoff_Seconds>
      </Retry>
      <List_of_Proc_Parameters count="{n_params}">{parameters}
      </List_of_Proc_Parameters>
      <List_of_Inputs count="1">
        <Input>
          <Input_ID>data</Input_ID>
          <Mandatory>true</Mandatory>
          <Min_Count>1</Min_Count>
          <Max_Count>1</Max_Count>
          <Selection_Rule>Explicit</Selection_Rule>
          <Description>Bytes to count.</Description>
          <List_of_Alternatives count="2">
            <Alternative><Order>1</Order><File_Type>{input_type}</File_Type></Alternative>
            <Alternative><Order>2</Order><File_Type>VIQ_TSTALT</File_Type></Alternative>
          </List_of_Alternatives>
        </Input>
      </List_of_Inputs>
      <List_of_Outputs count="1">
        <Output>
          <Output_ID>report</Output_ID>
          <File_Type>VIQ_TSTREP</File_Type>
          <Format>TXT</Format>
          <Min_Count>1</Min_Count>
          <Max_Count>1</Max_Count>
          <File_Name_Pattern>{output_pattern}</File_Name_Pattern>
          <Description>The count.</Description>
        </Output>
      </List_of_Outputs>{samples}
    </Task>
  </List_of_Tasks>
</Task_Table>
"""


def parameter(name: str, type_: str, default: str, extra: str = "") -> str:
    """One Proc_Parameter element."""
    return f"""
        <Proc_Parameter>
          <Name>{name}</Name>
          <Type>{type_}</Type>
          <Default>{default}</Default>{extra}
          <Description>Parameter {name}.</Description>
        </Proc_Parameter>"""


_SCALE = parameter("scale", "number", "1.5", "\n          <Exclusive_Minimum>0</Exclusive_Minimum>")
SHELL_PARAMETERS = _SCALE + parameter(
    "mode",
    "string",
    "ok",
    """
          <List_of_Allowed_Values count="7">
            <Value>ok</Value><Value>nolog</Value><Value>garbage</Value><Value>hang</Value>
            <Value>fail</Value><Value>nooutput</Value><Value>warn</Value>
          </List_of_Allowed_Values>""",
)


def write_shell_processor(directory: Path, name: str = "t-shell", **kwargs: str) -> Path:
    """The shell script and its task table in ``directory``; returns the task table's path."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "t_shell.sh"
    script.write_text(SHELL_PROCESSOR, encoding="utf-8")
    script.chmod(0o755)
    kwargs.setdefault("parameters", SHELL_PARAMETERS)
    path = directory / f"{name}.xml"
    path.write_text(task_table(name, "./t_shell.sh", **kwargs), encoding="utf-8")
    return path


def compile_c_processor(directory: Path) -> Path:
    """Compile the C processor with gcc into ``directory/t_csum``."""
    gcc = shutil.which("gcc") or shutil.which("cc")
    assert gcc is not None, "a C compiler is needed"
    source = directory / "t_csum.c"
    directory.mkdir(parents=True, exist_ok=True)
    source.write_text(C_PROCESSOR, encoding="utf-8")
    exe = directory / "t_csum"
    subprocess.run([gcc, "-O1", "-Wall", "-Werror", "-o", str(exe), str(source)], check=True, capture_output=True)
    return exe
