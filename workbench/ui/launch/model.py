"""The LaunchForm's state: a recipe, its hyperparameters (made from the recipe's config schema),
a dataset (an existing dataset artifact or an uploaded file), base model, priority, executor,
project (the job's run lands in it), name and tags; submit queues the job with ``wb.launch``.

Each hyperparameter is held as the text a person typed and checked with the recipe's own
:class:`~workbench.jobs.Field` (``parse``), so the form says exactly what ``launch`` would refuse,
next to the field, before anything is queued. Only values that differ from the recipe's default
are sent: ``[recipes.NAME]`` in ``workbench.toml`` still applies to the rest.
"""

from __future__ import annotations

import json
import os
import shlex
from typing import Any

import workbench as wb
from workbench.jobs import Field, executor_names, get_recipe, recipe_names
from workbench.remote import list_remotes
from workbench.settings import load_settings
from workbench.ui._i18n import add_zh, tr
from workbench.ui._model import ViewModel
from workbench.ui.launch.monitor_model import JobMonitorModel

add_zh(
    {
        "Recipe": "配方",
        "Dataset": "数据集",
        "Upload": "上传",
        "Base model": "基础模型",
        "Priority": "优先级",
        "Executor": "执行器",
        "Name": "名称",
        "Tags": "标签",
        "Launch": "启动",
        "Hyperparameters": "超参数",
        "(none)": "（无）",
        "Project": "项目",
    }
)


#: Chinese for the built-in recipes' help texts, keyed by the English text in the recipe's schema
#: (a recipe of an extension without an entry here shows its own text)
RECIPE_HELP_ZH = {
    "the column of text to learn (text datasets)": "要学习的文本列（文本数据集）",
    "the prompt column (prompt,completion datasets)": "提示列（prompt,completion 数据集）",
    "the completion column (prompt,completion datasets)": "补全列（prompt,completion 数据集）",
    "passes over the training set": "训练集的遍历轮数",
    "stop after this many steps (0: run all epochs)": "训练这么多步后停止（0：跑完所有轮）",
    "examples per step": "每步的样本数",
    "peak learning rate (default depends on the recipe and on lora)": "峰值学习率（默认值取决于配方和是否使用 lora）",
    "AdamW weight decay": "AdamW 权重衰减",
    "steps of linear learning-rate warm-up": "学习率线性预热的步数",
    "tokens per example (longer ones are cut)": "每个样本的词元数（更长的会被截断）",
    "LoRA rank": "LoRA 秩",
    "LoRA scaling (alpha)": "LoRA 缩放系数（alpha）",
    "dropout on the LoRA path": "LoRA 路径上的 dropout",
    "modules to adapt (default: peft's choice for the model type)": "要适配的模块（默认：peft 为该模型类型的选择）",
    "share of the rows held out for evaluation when the dataset has no test/eval table (0: no evaluation)":
        "数据集没有 test/eval 表时留作评估的行比例（0：不评估）",
    "random seed (split, initialisation, order)": "随机种子（划分、初始化、顺序）",
    "log the training loss every this many steps (0: not at all)": "每隔这么多步记录一次训练损失（0：不记录）",
    "where to train: auto (CUDA when available), cpu or cuda": "在哪里训练：auto（有 CUDA 时用 CUDA）、cpu 或 cuda",
    "CPU threads for torch (0: torch's default)": "torch 使用的 CPU 线程数（0：torch 的默认值）",
    "name of the model artifact (default: from the dataset's name)": "模型制品的名称（默认：取自数据集名称）",
    "the command, e.g. 'python train.py --lr 3e-4' (python means the interpreter that launched the job)":
        "要运行的命令，例如 'python train.py --lr 3e-4'（python 指启动该任务的解释器）",
    "working directory (default: where the job was launched)": "工作目录（默认：启动任务时所在的目录）",
    "extra environment variables for the command": "命令的额外环境变量",
    "steps the command will log, for progress": "命令将记录的步数，用于显示进度",
    "train a LoRA adapter (peft) instead of every weight": "训练 LoRA 适配器（peft），而不是全部权重",
    "the column holding the text": "存放文本的列",
    "the column holding the label": "存放标签的列",
}
add_zh(RECIPE_HELP_ZH)


def field_help(field: Field) -> str:
    """A field's help text in the current language (the recipe's own text where no translation is known)."""
    return tr(field.help)


def field_text(field: Field, value: Any) -> str:
    """How a value of ``field`` is written in a text box (what :meth:`Field.parse` reads back)."""
    if value is None:
        return ""
    if field.type == "argv":
        return shlex.join(value) if isinstance(value, (list, tuple)) else str(value)
    if field.type == "list":
        return ", ".join(value)
    if field.type == "dict":
        return json.dumps(value) if value else ""
    if field.type == "bool":
        return "true" if value else "false"
    return str(value)


def executors(root: Any) -> list[str]:
    """Where a job can run: each registered executor (``local``), and ``ssh:NAME`` for each remote."""
    out = sorted(n for n in executor_names() if n != "ssh")
    out.sort(key=lambda n: n != "local")
    try:
        remotes = list_remotes(load_settings(root))
    except wb.ConfigError:
        remotes = []
    return out + [f"ssh:{r.name}" for r in remotes]


class LaunchFormModel(ViewModel):
    """State and actions of the launch form.

    Fields: ``recipes``/``recipe`` (with ``fields``, ``values``, ``field_errors``,
    ``takes_dataset``, ``takes_base_model``), ``datasets``/``dataset``, ``base_model``,
    ``priority``, ``executors``/``executor``, ``projects``/``project`` (the existing projects are
    offered; any name may be typed), ``name``, ``tags``, ``last_job``, ``message``, ``error``.
    """

    def __init__(self, root: Any = None, *, monitor: JobMonitorModel | None = None, recipe: str | None = None,
                 project: str | None = None) -> None:
        super().__init__(root)
        self.monitor = monitor
        self.recipes: list[str] = recipe_names()
        self.recipe = ""
        self.fields: list[Field] = []
        self.values: dict[str, Any] = {}
        self.field_errors: dict[str, str] = {}
        self.takes_dataset = False
        self.takes_base_model = False
        self.datasets: list[str] = []
        self.dataset: str | None = None
        self.base_model = ""
        self.priority = 0
        self.executors: list[str] = executors(root)
        self.executor = self.executors[0] if self.executors else "local"
        # the current project: the one given (the web app's ?project=), else launch's own default
        self.project = project or os.environ.get("WORKBENCH_PROJECT") or "default"
        self.projects: list[str] = []
        self.name = ""
        self.tags = ""
        self.last_job: str | None = None
        self.message: str | None = None
        self.refresh_datasets()
        self.refresh_projects()
        start = recipe or ("script" if "script" in self.recipes else (self.recipes[0] if self.recipes else None))
        if start is not None:
            self.set_recipe(start)

    # -- choices ----------------------------------------------------------------------------------
    def refresh_datasets(self) -> None:
        """Dataset artifacts to pick from: each version's ref, newest first."""
        with self.guard("Datasets"):
            frame = wb.artifacts(type="dataset", root=self.root)
            refs = [str(r) for r in reversed(list(frame["ref"]))]
            if refs != self.datasets:
                self.datasets = refs
                self.notify("datasets")

    def refresh_projects(self) -> None:
        """The store's projects, offered in the project field (with the current one)."""
        with self.guard(tr("Project")):
            frame = wb.runs(columns=["project"], root=self.root)
            projects = sorted({str(p) for p in frame["project"].dropna()} | {self.project})
            if projects != self.projects:
                self.projects = projects
                self.notify("projects")

    def poll(self) -> bool:
        before = list(self.datasets)
        self.refresh_datasets()
        return before != self.datasets

    def set_recipe(self, name: str) -> None:
        """Show the hyperparameters of recipe ``name``, at their defaults."""
        with self.act(tr("Recipe")):
            recipe = get_recipe(name)
            self.recipe = name
            self.fields = list(recipe.fields)
            self.values = {
                f.name: bool(f.default) if f.type == "bool" else field_text(f, f.default) for f in self.fields
            }
            self.field_errors = {}
            self.takes_dataset = recipe.columns is not None
            self.takes_base_model = recipe.base_model != "none"
            if not self.takes_dataset:
                self.dataset = None
            self.notify("recipe", "fields", "values", "field_errors")

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.name == key:
                return f
        raise KeyError(key)

    # -- editing ----------------------------------------------------------------------------------
    def set_value(self, key: str, value: Any) -> bool:
        """Set hyperparameter ``key`` (text, or a bool for a check box); False with the reason in
        ``field_errors[key]`` when the recipe would refuse it."""
        self.values[key] = value
        error = self._check(key)
        if error is None:
            self.field_errors.pop(key, None)
        else:
            self.field_errors[key] = error
        self.notify("values", "field_errors")
        return error is None

    def _check(self, key: str) -> str | None:
        try:
            self._parsed(key)
        except wb.JobError as exc:
            return str(exc)
        return None

    def _parsed(self, key: str) -> Any:
        f = self.field(key)
        value = self.values.get(key)
        if f.type == "bool":
            return f.check(bool(value), "the form")
        text = "" if value is None else str(value)
        if not text.strip():  # an empty box: the default ("decide for me" where that is None)
            if f.required:
                raise wb.JobError(f"config key {key!r} is required: {f.help}")
            return None if f.nullable or f.default is None else f.check(f.default, "the recipe")
        try:
            return f.parse(text)
        except wb.JobError as exc:  # the form is not a command line: drop "from --set key=text"
            raise wb.JobError(str(exc).replace(f" from --set {key}={text}", "", 1)) from None

    def config(self) -> dict[str, Any]:
        """The hyperparameters that differ from the recipe's defaults (JobError on a bad one)."""
        out: dict[str, Any] = {}
        for f in self.fields:
            value = self._parsed(f.name)
            default = f.check(f.default, "the recipe") if f.default is not None else None
            if value != default:
                out[f.name] = value
        return out

    def set_dataset(self, ref: str | None) -> None:
        self.dataset = ref or None
        self.notify("dataset")

    def upload(self, filename: str, data: bytes) -> bool:
        """Log an uploaded file as a dataset artifact and pick it; a bad table leaves the choice
        as it was and shows the :class:`~workbench.DatasetError` text."""
        if self.refused(tr("Dataset")):
            return False
        ok = False
        with self.act(tr("Dataset")):
            art = wb.log_dataset(bytes(data), filename=filename, root=self.root)
            ok = True
            self.refresh_datasets()
            self.dataset = art.ref
            self.message = f"{filename} -> {art.ref} ({art.metadata.get('dataset', {}).get('rows', '?')} rows)"
            self.notify("dataset", "message")
        return ok

    def set(self, **values: Any) -> None:
        """Set plain fields: ``base_model``, ``priority``, ``executor``, ``project``, ``name``, ``tags``."""
        for key, value in values.items():
            if key not in ("base_model", "priority", "executor", "project", "name", "tags"):
                raise AttributeError(f"the launch form has no field {key!r}")
            setattr(self, key, value)
        self.notify(*values)

    # -- submitting -------------------------------------------------------------------------------
    def submit(self) -> wb.Job | None:
        """Queue the job with ``wb.launch``; the :class:`~workbench.Job`, or None with ``error`` set
        (nothing is queued then)."""
        if self.refused(tr("Launch")):
            return None
        job = None
        with self.act(tr("Launch")):
            for f in self.fields:
                self.set_value(f.name, self.values.get(f.name))
            if self.field_errors:
                raise wb.JobError(
                    "fix the hyperparameters marked in red first: " + ", ".join(sorted(self.field_errors))
                )
            priority = self.priority
            if isinstance(priority, str):
                try:
                    priority = int(priority.strip() or 0)
                except ValueError:
                    raise wb.JobError(f"priority must be a whole number, not {priority!r}") from None
            tags = [t.strip() for t in self.tags.split(",") if t.strip()]
            project = (self.project or "").strip() or None
            job = wb.launch(
                self.recipe,
                self.config(),
                dataset=self.dataset if self.takes_dataset and self.dataset else None,
                base_model=(self.base_model.strip() or None) if self.takes_base_model else None,
                priority=int(priority),
                executor=self.executor,
                project=project,
                name=self.name.strip() or None,
                tags=tags or None,
                root=self.root,
            )
            self.last_job = job.run_id
            self.message = f"queued {job.run_id} ({self.recipe})" + (f" in {project}" if project else "")
            self.notify("last_job", "message")
            self.refresh_projects()
        if job is not None and self.monitor is not None:
            self.monitor.track(job)
        return job
