<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>consilium::ui::CtViewArea</name>
    <message>
        <source>No study loaded — File ▸ Open Study Folder…</source>
        <translation type="vanished">未加载检查 — 文件 ▸ 打开检查文件夹…</translation>
    </message>
    <message>
        <source>Axial</source>
        <translation type="vanished">轴位</translation>
    </message>
</context>
<context>
    <name>consilium::ui::CtViewer</name>
    <message>
        <location filename="../../ui/ct_viewer.cpp" line="18"/>
        <source>No study loaded — File ▸ Open Study Folder…</source>
        <translation>未加载检查 — 文件 ▸ 打开检查文件夹…</translation>
    </message>
    <message>
        <location filename="../../ui/ct_viewer.cpp" line="168"/>
        <source>%1  Slice %2 / %3</source>
        <translation>%1  第 %2 / %3 层</translation>
    </message>
    <message>
        <location filename="../../ui/ct_viewer.cpp" line="170"/>
        <source>W %1  L %2</source>
        <translation>窗宽 %1  窗位 %2</translation>
    </message>
    <message>
        <location filename="../../ui/ct_viewer.cpp" line="173"/>
        <source>Zoom %1%</source>
        <translation>缩放 %1%</translation>
    </message>
</context>
<context>
    <name>consilium::ui::MainWindow</name>
    <message>
        <location filename="../../ui/main_window.cpp" line="72"/>
        <source>Consilium</source>
        <translation>Consilium</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="88"/>
        <source>Loading study: %1 %2/%3</source>
        <translation>正在加载检查：%1 %2/%3</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="112"/>
        <location filename="../../ui/main_window.cpp" line="1031"/>
        <location filename="../../ui/main_window.cpp" line="1222"/>
        <source>Axial</source>
        <translation>轴位</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="112"/>
        <location filename="../../ui/main_window.cpp" line="1031"/>
        <location filename="../../ui/main_window.cpp" line="1222"/>
        <source>Coronal</source>
        <translation>冠状位</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="112"/>
        <location filename="../../ui/main_window.cpp" line="1031"/>
        <location filename="../../ui/main_window.cpp" line="1222"/>
        <source>Sagittal</source>
        <translation>矢状位</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="128"/>
        <source>Window:</source>
        <translation>窗：</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>Lung</source>
        <translation>肺窗</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>Mediastinum</source>
        <translation>纵隔窗</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>Bone</source>
        <translation>骨窗</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>Brain</source>
        <translation>脑窗</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>Abdomen</source>
        <translation>腹部窗</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="140"/>
        <source>Ruler</source>
        <translation>标尺</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="142"/>
        <source>Measure a distance in millimetres (left drag)</source>
        <translation>测量距离（毫米，左键拖动）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="171"/>
        <source>Distance: %1 mm</source>
        <translation>距离：%1 毫米</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="182"/>
        <source>Patient / Study / Series</source>
        <translation>患者 / 检查 / 序列</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="182"/>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="182"/>
        <source>Slices</source>
        <translation>层数</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="198"/>
        <location filename="../../ui/main_window.cpp" line="1261"/>
        <source>Load report</source>
        <translation>加载报告</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="204"/>
        <source>Studies</source>
        <translation>检查</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="213"/>
        <source>Open a record (.txt, .md) or paste the patient&apos;s notes here.</source>
        <translation>打开病历（.txt、.md）或在此粘贴患者记录。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="234"/>
        <source>1 token</source>
        <translation>1 个词元</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="234"/>
        <source>%1 tokens</source>
        <translation>%1 个词元</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="236"/>
        <source> — the model reads the first %1; the rest is cut</source>
        <translation>——模型只读取前 %1 个，其余部分被截断</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="241"/>
        <source>Tokens: unknown (%1)</source>
        <translation>词元数：未知（%1）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="248"/>
        <location filename="../../ui/main_window.cpp" line="545"/>
        <source>Record</source>
        <translation>病历</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="257"/>
        <location filename="../../ui/main_window.cpp" line="333"/>
        <location filename="../../ui/main_window.cpp" line="369"/>
        <source>● Record</source>
        <translation>● 录音</translation>
    </message>
    <message>
        <source>Voice capture arrives with the audio work.</source>
        <translation type="vanished">语音采集将随音频功能提供。</translation>
    </message>
    <message>
        <source>level</source>
        <translation type="vanished">音量</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="260"/>
        <source>Record a spoken question from the microphone chosen in Settings</source>
        <translation>用设置中选择的麦克风录制语音问题</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="262"/>
        <source>Audio file…</source>
        <translation>音频文件…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="266"/>
        <source>Spoken question</source>
        <translation>语音问题</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="267"/>
        <source>Audio (*.wav *.flac *.ogg);;All files (*)</source>
        <translation>音频 (*.wav *.flac *.ogg);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="307"/>
        <source>The transcript appears here; edit it, then press Enter to ask.</source>
        <translation>识别文本显示在此处；可编辑，按 Enter 提问。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="289"/>
        <location filename="../../ui/main_window.cpp" line="319"/>
        <source>■ Stop</source>
        <translation>■ 停止</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="278"/>
        <location filename="../../ui/main_window.cpp" line="295"/>
        <source>▶ Play</source>
        <translation>▶ 播放</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="280"/>
        <source>Play back the last spoken question</source>
        <translation>回放上一次语音提问</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="321"/>
        <source>Recording from %1…</source>
        <translation>正在从 %1 录音…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="328"/>
        <source>Recording… %1 s</source>
        <translation>录音中… %1 秒</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="338"/>
        <source>Recorded %1 s</source>
        <translation>已录制 %1 秒</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="339"/>
        <source>Recorded %1 s — %2</source>
        <translation>已录制 %1 秒 — %2</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="342"/>
        <source> · transcribing…</source>
        <translation> · 识别中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="347"/>
        <source>Understood (confidence %1, %2 s of speech)</source>
        <translation>已识别（置信度 %1，语音 %2 秒）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="353"/>
        <source>Not understood (%1). Best guess shown: edit it or record again.</source>
        <translation>未能识别（%1）。显示最接近的猜测：请编辑或重新录音。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="359"/>
        <source>Recording stopped early: %1</source>
        <translation>录音提前结束：%1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="375"/>
        <location filename="../../ui/main_window.cpp" line="545"/>
        <source>Voice</source>
        <translation>语音</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="383"/>
        <source>Ask about the study and the record (Ctrl+Enter).</source>
        <translation>就影像检查和病历提问（Ctrl+Enter）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="388"/>
        <location filename="../../ui/main_window.cpp" line="408"/>
        <source>Ask</source>
        <translation>提问</translation>
    </message>
    <message>
        <source>After an answer: the attention heatmap over the CT, the weight each modality carried, and which experts fired.</source>
        <translation type="vanished">回答之后：CT 上的注意力热图、各模态所占权重，以及被激活的专家。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="392"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="403"/>
        <source>Questions and answers about this study</source>
        <translation>本检查的问答记录</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="449"/>
        <source>Stopped.</source>
        <translation>已停止。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="450"/>
        <source>Could not answer: %1</source>
        <translation>无法回答：%1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="455"/>
        <source>Evidence</source>
        <translation>依据</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="465"/>
        <source>Attention on the CT</source>
        <translation>CT 上的注意力</translation>
    </message>
    <message>
        <source>Where the answer looked: the peak of the model&apos;s attention over CT patches.</source>
        <translation type="vanished">回答关注的位置：模型对 CT 图块注意力的峰值。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="481"/>
        <source>Jet</source>
        <translation>Jet（彩虹）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="481"/>
        <source>Hot</source>
        <translation>Hot（热度）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="481"/>
        <source>Inferno</source>
        <translation>Inferno（炽焰）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="481"/>
        <source>Viridis</source>
        <translation>Viridis（翠绿）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="488"/>
        <source>Hide attention below this share of its maximum</source>
        <translation>隐藏低于最大值此比例的注意力</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="489"/>
        <source>Colours</source>
        <translation>配色</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="491"/>
        <source>Threshold</source>
        <translation>阈值</translation>
    </message>
    <message>
        <source>Where the answer looked: the model&apos;s attention over the CT patches, averaged over heads in the fusion layer, interpolated to every slice and scaled to its maximum.</source>
        <translation type="vanished">回答关注的位置：模型在融合层对各 CT 图块的注意力（多头平均），插值到每一层面，并按其最大值归一化。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="510"/>
        <source>Show the attention averaged over the model, or through one layer or head alone</source>
        <translation>显示整个模型平均后的注意力，或仅经过某一层或某一个头的注意力</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="511"/>
        <source>Map</source>
        <translation>图</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="536"/>
        <source>weight</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="545"/>
        <source>Image</source>
        <translation>影像</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="545"/>
        <source>Question</source>
        <translation>问题</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="558"/>
        <source>How much each input carried the answer (softmax over the four; sums to 1).</source>
        <translation>各输入对回答的贡献（四者 softmax，总和为 1）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="570"/>
        <source>Which of the 8 experts each answer token used (top-2 per layer, summed over layers).</source>
        <translation>每个回答词元使用了 8 个专家中的哪些（每层前 2 个，按层求和）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="596"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="598"/>
        <source>Open &amp;Study Folder…</source>
        <translation>打开检查文件夹(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="601"/>
        <source>Open &amp;Record…</source>
        <translation>打开病历(&amp;R)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="603"/>
        <source>Recent &amp;Studies</source>
        <translation>最近的检查(&amp;S)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="607"/>
        <source>&amp;Export Report…</source>
        <translation>导出报告(&amp;E)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="609"/>
        <source>Export the finding report</source>
        <translation>导出发现报告</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="610"/>
        <source>PDF (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="614"/>
        <source>Export report</source>
        <translation>导出报告</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="617"/>
        <source>Report written: %1 (with .json and .png beside it, de-identified)</source>
        <translation>报告已写入：%1（同目录另有 .json 与 .png，已去标识化）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="624"/>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="628"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="630"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="634"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="635"/>
        <source>&amp;About Consilium</source>
        <translation>关于 Consilium(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="636"/>
        <source>About &amp;Qt</source>
        <translation>关于 &amp;Qt</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="651"/>
        <location filename="../../ui/main_window.cpp" line="672"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="685"/>
        <source>Device: probing…</source>
        <translation>设备：检测中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="687"/>
        <source>Model: looking…</source>
        <translation>模型：查找中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="701"/>
        <source>Memory: %1 MiB</source>
        <translation>内存：%1 MiB</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="719"/>
        <source>%1 no longer exists; removed from the recent studies</source>
        <translation>%1 已不存在，已从最近的检查中移除</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="726"/>
        <source>Clear Recent Studies</source>
        <translation>清除最近的检查</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="735"/>
        <source>Open study folder</source>
        <translation>打开检查文件夹</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="745"/>
        <source>Open record</source>
        <translation>打开病历</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="746"/>
        <source>Records (*.txt *.md);;All files (*)</source>
        <translation>病历 (*.txt *.md);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="760"/>
        <source>Record decoded as %1</source>
        <translation>病历按 %1 解码</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="775"/>
        <source>Opening the microphone…</source>
        <translation>正在打开麦克风…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="783"/>
        <source>Transcribing %1…</source>
        <translation>正在识别 %1…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="790"/>
        <source>Open a study first (File ▸ Open Study Folder…).</source>
        <translation>请先打开检查（文件 ▸ 打开检查文件夹…）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="794"/>
        <source>Type or speak a question first.</source>
        <translation>请先输入或说出问题。</translation>
    </message>
    <message>
        <source>Answering…</source>
        <translation type="vanished">正在回答…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="850"/>
        <source>Model: %1 (not found)</source>
        <translation>模型：%1（未找到）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="871"/>
        <source>Precision: %1</source>
        <translation>精度：%1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="933"/>
        <source>attention weight %1</source>
        <translation>注意力权重 %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="945"/>
        <source>%1 mm %2, %3</source>
        <translation>%1 毫米 %2，%3</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1027"/>
        <source>No answer to report yet.</source>
        <translation>尚无可报告的回答。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1032"/>
        <source>%1 slice %2 of %3</source>
        <translation>%1 第 %2 层（共 %3 层）</translation>
    </message>
    <message>
        <source>Where the answer looked: the answer&apos;s attention over the question, carried through the fusion layer to the CT patches, averaged over its layers and heads, interpolated to every slice and scaled to its maximum.</source>
        <translation type="vanished">回答关注的位置：回答对问题的注意力，经融合层传递到 CT 图块，对各层和各头取平均，插值到每一层面并按最大值缩放。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1056"/>
        <source>Where the answer looked through decoder layer %1 alone (averaged over the fusion heads).</source>
        <translation>仅经过解码器第 %1 层时回答关注的位置（对融合头取平均）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1060"/>
        <source>What fusion head %1 picked out of the CT for this answer (weighted by the answer&apos;s attention, all decoder layers).</source>
        <translation>融合头 %1 为此回答从 CT 中选出的区域（按回答的注意力加权，所有解码器层）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1071"/>
        <source>Averaged over layers and heads</source>
        <translation>各层和各头的平均</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1073"/>
        <source>Decoder layer %1</source>
        <translation>解码器第 %1 层</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1075"/>
        <source>Fusion head %1</source>
        <translation>融合头 %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1105"/>
        <source>Loading study…</source>
        <translation>正在加载检查…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1108"/>
        <source>Loading %1…</source>
        <translation>正在加载 %1…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1115"/>
        <source>Could not load %1:
%2</source>
        <translation>无法加载 %1：
%2</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1125"/>
        <source>The running question was stopped: another study was opened.</source>
        <translation>已打开另一项检查，正在进行的提问已停止。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1139"/>
        <source>(no name)</source>
        <translation>（无姓名）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1141"/>
        <source>ID %1, sex %2, born %3</source>
        <translation>ID %1，性别 %2，出生 %3</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1143"/>
        <source>Study %1</source>
        <translation>检查 %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1148"/>
        <source>Series %1</source>
        <translation>序列 %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1153"/>
        <source>%1 × %2, %3 × %4 × %5 mm
%6</source>
        <translation>%1 × %2，%3 × %4 × %5 毫米
%6</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1180"/>
        <source>Load report: all %1 files used</source>
        <translation>加载报告：%1 个文件全部使用</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1181"/>
        <source>Load report: %1 files skipped</source>
        <translation>加载报告：跳过 %1 个文件</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1182"/>
        <source>Loaded %1 series from %2 files in %3 s</source>
        <translation>%3 秒内从 %2 个文件加载了 %1 个序列</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1187"/>
        <source>; %1 files skipped (see the load report)</source>
        <translation>；跳过 %1 个文件（见加载报告）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1193"/>
        <source>No image series found in %1 (see the load report).</source>
        <translation>在 %1 中未找到图像序列（见加载报告）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1232"/>
        <source>%1 %2   (%3, %4, %5) mm LPS   voxel %6, %7, %8</source>
        <translation>%1 %2   (%3, %4, %5) 毫米 LPS   体素 %6, %7, %8</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1246"/>
        <source>Not DICOM</source>
        <translation>非 DICOM 文件</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1247"/>
        <source>No image</source>
        <translation>无图像</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1248"/>
        <source>Damaged</source>
        <translation>文件损坏</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1249"/>
        <source>Unsupported encoding</source>
        <translation>不支持的编码</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1250"/>
        <source>Not supported</source>
        <translation>不支持</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1252"/>
        <source>Unreadable</source>
        <translation>无法读取</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1253"/>
        <source>Not read (cancelled)</source>
        <translation>未读取（已取消）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1254"/>
        <source>Not usable</source>
        <translation>无法使用</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1263"/>
        <source>%1: %2 files found, %3 used, %4 skipped.</source>
        <translation>%1：找到 %2 个文件，使用 %3 个，跳过 %4 个。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1270"/>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1270"/>
        <source>Problem</source>
        <translation>问题</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1270"/>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1301"/>
        <source>Series %1 (%2): %3</source>
        <translation>序列 %1（%2）：%3</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1303"/>
        <source>Warnings about the loaded series:</source>
        <translation>已加载序列的警告：</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1379"/>
        <source>Nothing to open: drop a study folder, a DICOMDIR, a DICOM file, a record (.txt, .md) or an audio file.</source>
        <translation>无可打开的内容：请拖入检查文件夹、DICOMDIR、DICOM 文件、病历（.txt、.md）或音频文件。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1389"/>
        <source>Device: %1</source>
        <translation>设备：%1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="849"/>
        <source>Model: none found</source>
        <translation>模型：未找到</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="418"/>
        <source>Question: opening the model…</source>
        <translation>提问：正在打开模型…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="421"/>
        <source>Question: reading the study…</source>
        <translation>提问：正在读取检查…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="424"/>
        <source>Question: reading the record and question…</source>
        <translation>提问：正在读取病历和问题…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="427"/>
        <source>Question: encoding and thinking…</source>
        <translation>提问：正在编码和推理…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="437"/>
        <source>Question: answering, %1 tokens</source>
        <translation>提问：正在回答，已生成 %1 个词元</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="812"/>
        <source>Question: waiting…</source>
        <translation>提问：等待中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="852"/>
        <source>Model: %1 (%2)</source>
        <translation>模型：%1（%2）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="854"/>
        <source>valid</source>
        <translation>有效</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="854"/>
        <source>invalid</source>
        <translation>无效</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="949"/>
        <source> (solid %1 mm)</source>
        <translation>（实性部分 %1 毫米）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="967"/>
        <source>1 finding</source>
        <translation>1 个发现</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="968"/>
        <source>%1 findings</source>
        <translation>%1 个发现</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="969"/>
        <source>No findings above the detector&apos;s threshold</source>
        <translation>没有高于检测阈值的发现</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="971"/>
        <source>; Lung-RADS %1</source>
        <translation>；Lung-RADS %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="977"/>
        <source>the answer text says Lung-RADS %1</source>
        <translation>回答文本为 Lung-RADS %1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="978"/>
        <source>the answer text counts %1</source>
        <translation>回答文本计数为 %1 个</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="980"/>
        <source>. Not as %1.</source>
        <translation>。与回答不一致：%1。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="980"/>
        <source> and </source>
        <translation>，</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1053"/>
        <source>Where the answer looked: its attention over the CT patches, averaged over layers and heads, scaled to its maximum.</source>
        <translation>回答关注的位置：其对 CT 图块的注意力，对各层和各头取平均，并按最大值缩放。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1417"/>
        <source>&lt;h3&gt;Consilium %1&lt;/h3&gt;&lt;p&gt;Local multimodal assistant for CT studies, patient records and spoken questions. Runs entirely on this workstation.&lt;/p&gt;&lt;p&gt;&lt;b&gt;Not for clinical use.&lt;/b&gt;&lt;/p&gt;&lt;table&gt;</source>
        <translation>&lt;h3&gt;Consilium %1&lt;/h3&gt;&lt;p&gt;面向 CT 检查、患者病历和语音提问的本地多模态助手，完全在本工作站上运行。&lt;/p&gt;&lt;p&gt;&lt;b&gt;不可用于临床。&lt;/b&gt;&lt;/p&gt;&lt;table&gt;</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1426"/>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="1427"/>
        <source>About Consilium</source>
        <translation>关于 Consilium</translation>
    </message>
</context>
<context>
    <name>consilium::ui::SettingsDialog</name>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="21"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="27"/>
        <source>Shipped demo model</source>
        <translation>随附的演示模型</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="28"/>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="30"/>
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="31"/>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="37"/>
        <source>Model file:</source>
        <translation>模型文件：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="41"/>
        <source>Automatic (GPU when available)</source>
        <translation>自动（有 GPU 时使用 GPU）</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="42"/>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="43"/>
        <source>GPU (CUDA)</source>
        <translation>GPU（CUDA）</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="45"/>
        <source>Device:</source>
        <translation>设备：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="49"/>
        <source>As stored in the model</source>
        <translation>与模型文件一致</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="55"/>
        <source>Precision:</source>
        <translation>精度：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="61"/>
        <source>Concurrent questions (batch limit):</source>
        <translation>并发问题数（批处理上限）：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="65"/>
        <source>System default</source>
        <translation>系统默认</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="69"/>
        <source>%1 (not connected)</source>
        <translation>%1（未连接）</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="73"/>
        <source>Microphone:</source>
        <translation>麦克风：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="77"/>
        <source>Lung</source>
        <translation>肺窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="77"/>
        <source>Mediastinum</source>
        <translation>纵隔窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="77"/>
        <source>Bone</source>
        <translation>骨窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="77"/>
        <source>Brain</source>
        <translation>脑窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="78"/>
        <source>Abdomen</source>
        <translation>腹部窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="83"/>
        <source>Default CT window:</source>
        <translation>默认 CT 窗：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="87"/>
        <source>System language</source>
        <translation>系统语言</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="91"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="93"/>
        <source>Language changes take effect the next time Consilium starts.</source>
        <translation>语言更改将在下次启动 Consilium 时生效。</translation>
    </message>
</context>
</TS>
