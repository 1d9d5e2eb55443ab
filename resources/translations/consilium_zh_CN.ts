<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>consilium::ui::CtViewArea</name>
    <message>
        <location filename="../../ui/ct_view_area.cpp" line="9"/>
        <source>No study loaded — File ▸ Open Study Folder…</source>
        <translation>未加载检查 — 文件 ▸ 打开检查文件夹…</translation>
    </message>
    <message>
        <location filename="../../ui/ct_view_area.cpp" line="33"/>
        <source>Axial</source>
        <translation>轴位</translation>
    </message>
</context>
<context>
    <name>consilium::ui::MainWindow</name>
    <message>
        <location filename="../../ui/main_window.cpp" line="30"/>
        <source>Consilium</source>
        <translation>Consilium</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="57"/>
        <source>Patient / Study / Series</source>
        <translation>患者 / 检查 / 序列</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="57"/>
        <source>Modality</source>
        <translation>模态</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="57"/>
        <source>Slices</source>
        <translation>层数</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="58"/>
        <source>Studies</source>
        <translation>检查</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="64"/>
        <source>Open a record (.txt, .md) or paste the patient&apos;s notes here.</source>
        <translation>打开病历（.txt、.md）或在此粘贴患者记录。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="65"/>
        <source>Record</source>
        <translation>病历</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="71"/>
        <source>● Record</source>
        <translation>● 录音</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="74"/>
        <source>Voice capture arrives with the audio work.</source>
        <translation>语音采集将随音频功能提供。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="79"/>
        <source>level</source>
        <translation>音量</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="82"/>
        <source>Voice</source>
        <translation>语音</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="89"/>
        <source>Ask about the study and the record (Ctrl+Enter).</source>
        <translation>就影像检查和病历提问（Ctrl+Enter）。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="91"/>
        <location filename="../../ui/main_window.cpp" line="99"/>
        <source>Ask</source>
        <translation>提问</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="104"/>
        <source>After an answer: the attention heatmap over the CT, the weight each modality carried, and which experts fired.</source>
        <translation>回答之后：CT 上的注意力热图、各模态所占权重，以及被激活的专家。</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="110"/>
        <source>Evidence</source>
        <translation>依据</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="115"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="116"/>
        <source>Open &amp;Study Folder…</source>
        <translation>打开检查文件夹(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="117"/>
        <source>Open &amp;Record…</source>
        <translation>打开病历(&amp;R)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="119"/>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="123"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="125"/>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="129"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="130"/>
        <source>&amp;About Consilium</source>
        <translation>关于 Consilium(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="131"/>
        <source>About &amp;Qt</source>
        <translation>关于 &amp;Qt</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="135"/>
        <source>Device: probing…</source>
        <translation>设备：检测中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="137"/>
        <source>Model: looking…</source>
        <translation>模型：查找中…</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="146"/>
        <source>Device: %1</source>
        <translation>设备：%1</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="148"/>
        <source>Model: none found</source>
        <translation>模型：未找到</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="150"/>
        <source>Model: %1 (%2)</source>
        <translation>模型：%1（%2）</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="152"/>
        <source>valid</source>
        <translation>有效</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="152"/>
        <source>invalid</source>
        <translation>无效</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="173"/>
        <source>&lt;h3&gt;Consilium %1&lt;/h3&gt;&lt;p&gt;Local multimodal assistant for CT studies, patient records and spoken questions. Runs entirely on this workstation.&lt;/p&gt;&lt;p&gt;&lt;b&gt;Not for clinical use.&lt;/b&gt;&lt;/p&gt;&lt;table&gt;</source>
        <translation>&lt;h3&gt;Consilium %1&lt;/h3&gt;&lt;p&gt;面向 CT 检查、患者病历和语音提问的本地多模态助手，完全在本工作站上运行。&lt;/p&gt;&lt;p&gt;&lt;b&gt;不可用于临床。&lt;/b&gt;&lt;/p&gt;&lt;table&gt;</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="182"/>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <location filename="../../ui/main_window.cpp" line="183"/>
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
        <location filename="../../ui/settings_dialog.cpp" line="68"/>
        <source>%1 (not connected)</source>
        <translation>%1（未连接）</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="71"/>
        <source>Microphone:</source>
        <translation>麦克风：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="75"/>
        <source>Lung</source>
        <translation>肺窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="75"/>
        <source>Mediastinum</source>
        <translation>纵隔窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="75"/>
        <source>Bone</source>
        <translation>骨窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="75"/>
        <source>Brain</source>
        <translation>脑窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="75"/>
        <source>Abdomen</source>
        <translation>腹部窗</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="79"/>
        <source>Default CT window:</source>
        <translation>默认 CT 窗：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="83"/>
        <source>System language</source>
        <translation>系统语言</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="87"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../ui/settings_dialog.cpp" line="89"/>
        <source>Language changes take effect the next time Consilium starts.</source>
        <translation>语言更改将在下次启动 Consilium 时生效。</translation>
    </message>
</context>
</TS>
