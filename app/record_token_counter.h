// The Record dock's token count: the record as the model will read it, counted with the
// model file's own tokenizer (SentencePiece from the GGUF), off the GUI thread. The engine
// comes from the AskContext the questions use, so the model is opened once for both.
//
// Thread safety: lives on the GUI thread; counting runs on one pool thread; the latest
// request wins (an older result is dropped); results arrive as queued signals.
#pragma once

#include <QObject>
#include <QString>
#include <QThreadPool>

#include <atomic>
#include <memory>

#include "app/ask_service.h"

namespace consilium::app {

class RecordTokenCounter : public QObject {
    Q_OBJECT
  public:
    explicit RecordTokenCounter(std::shared_ptr<AskContext> context, QObject* parent = nullptr);
    ~RecordTokenCounter() override;  // waits for a running count

    // Counts `text` (with its bos, as ask encodes it) with the tokenizer of `modelFile`
    // (empty: the installed or bundled model), opened through the shared AskContext.
    void count(const QString& modelFile, const QString& text);

  signals:
    // tokens including bos; limit = the model's maximum record length (consilium.text.max_tokens).
    void counted(int tokens, int limit);
    void failed(const QString& message);

  private:
    QThreadPool m_pool;
    std::shared_ptr<AskContext> m_context;
    std::shared_ptr<std::atomic<int>> m_latest;
};

}  // namespace consilium::app
