"""External processors: executables declared by Task Table XML files (ESA IPF style).

* :mod:`~viq_host.external.tasktable` reads and checks a task table into a declaration and a generated
  pydantic parameter model;
* :mod:`~viq_host.external.adapter` makes a Processor class that runs the executable with a job order;
* :mod:`~viq_host.external.joborders` writes that job order (our ``Job_Order`` or the MMFI ``Ipf_Job_Order``);
* :mod:`~viq_host.external.plugin` registers configured and package-shipped task tables.
"""

from viq_host.external.adapter import ExternalProcessor, processor_class
from viq_host.external.joborders import ipf_job_order_xml, order_for_run, write_ipf_job_order
from viq_host.external.plugin import TaskTablePlugin
from viq_host.external.tasktable import TaskTable, TaskTableError, read_task_table

__all__ = [
    "ExternalProcessor",
    "TaskTable",
    "TaskTableError",
    "TaskTablePlugin",
    "ipf_job_order_xml",
    "order_for_run",
    "processor_class",
    "read_task_table",
    "write_ipf_job_order",
]
