"""SyncPanel: SSH remotes, their last sync, test / sync / fetch-an-artifact with progress.

>>> from workbench.ui import SyncPanel   # doctest: +SKIP
>>> SyncPanel()                          # the ipywidgets view, in a notebook cell  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench.ui._component import Component
from workbench.ui._i18n import add_zh
from workbench.ui.sync.model import SyncModel

__all__ = ["SyncModel", "SyncPanel"]


class SyncPanel(Component[SyncModel]):
    """Remotes of the store at ``root``: add, test (round trip or the error), sync, fetch artifacts.

    Long actions run in a worker thread and report progress through the model, so the view stays
    responsive; ``panel.model.wait()`` waits for the running one.
    """

    def __init__(self, root: Any = None, *, refresh: float | None = None) -> None:
        super().__init__(SyncModel(root))
        self.refresh = refresh

    def _make_widget(self) -> Any:
        from workbench.ui.sync.ipywidgets_view import SyncWidget

        view = SyncWidget(self.model, self.refresh)
        self._keep(view)
        return view.layout

    def _make_panel(self) -> Any:
        from workbench.ui.sync.panel_view import SyncPanelView

        view = SyncPanelView(self.model, self.refresh)
        self._keep(view)
        return view.layout



add_zh({
    "Remotes": "远程主机",
    "Remote": "远程主机",
    "never": "从未",
    "Name": "名称",
    "Host": "主机",
    "Port": "端口",
    "User": "用户",
    "Key file": "密钥文件",
    "Host key": "主机密钥指纹",
    "Root": "存储目录",
    "Python": "Python",
    "Last sync": "上次同步",
    "Brought": "同步内容",
    "Test": "测试",
    "Sync": "同步",
    "Fetch": "获取",
    "Artifact": "制品",
    "Add remote": "添加远程主机",
    "Add a remote": "添加远程主机",
    "Remove remote": "删除远程主机",
    "Trust this host's key on first use": "首次连接时信任此主机密钥",
    "No remotes yet: add one below": "尚无远程主机：请在下方添加",
    "no remote chosen: add one first": "未选择远程主机：请先添加",
    "Added remote {name}": "已添加远程主机 {name}",
    "Removed remote {name}": "已删除远程主机 {name}",
    "{runs} runs, {artifacts} artifacts, {files} files, {size}":
        "{runs} 个运行，{artifacts} 个制品，{files} 个文件，{size}",
    "{files}/{files_total} files, {done} of {total}": "{files}/{files_total} 个文件，{done} / {total}",
    "{name}: reachable, round trip {rtt}, Python {python}": "{name}：可连接，往返 {rtt}，Python {python}",
    "{name}: {runs} runs and {artifacts} artifacts synced ({files} files, {size}) in {time}":
        "{name}：已同步 {runs} 个运行和 {artifacts} 个制品（{files} 个文件，{size}），用时 {time}",
    "{count} entries refused: {first}": "拒绝了 {count} 个条目：{first}",
    "{ref}: {blobs} blobs fetched ({size}), {present} already here → {path}":
        "{ref}：已获取 {blobs} 个数据块（{size}），{present} 个已在本地 → {path}",
})
