"""nbval runs each notebook in a kernel that inherits this process's environment.

jupysql imports pyspark when it is installed (the dev extra has the full pyspark,
for the Spark tests' server), and pyspark then warns on stderr that it was not
tested with pandas 3. The saved outputs are what a user sees without pyspark, so
the kernels are told to ignore that one warning.
"""

import os

_FILTER = "ignore:PySpark does not yet fully support pandas:FutureWarning"
os.environ["PYTHONWARNINGS"] = ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), _FILTER]))
