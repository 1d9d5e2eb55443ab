// The GUI's inference worker: one object living on its own QThread that runs questions
// through app/ask_service (the consilium engine). Requests and results cross threads as
// queued signals carrying value types; the answer streams token by token; cancel() takes
// effect between layers and tokens.
//
// Thread safety: construct on the GUI thread; InferenceThread moves the worker to its
// thread. cancel() may be called from any thread. The owner's destructor quits and waits.
#pragma once

#include <QJsonObject>
#include <QObject>
#include <QThread>

#include <atomic>
#include <memory>

#include "app/ask_service.h"

namespace consilium::app {

class InferenceWorker : public QObject {
    Q_OBJECT
  public:
    explicit InferenceWorker(std::shared_ptr<AskContext> context) : m_context(std::move(context)) {}
    // Requests a cancellation of the running question (any thread).
    void cancel() { m_cancel.store(true); }

  public slots:
    void ask(int requestId, const consilium::app::AskRequest& request);

  signals:
    // What the question is doing now (an app::AskStage, as int).
    void stageChanged(int requestId, int stage);
    void tokenReady(int requestId, const QString& piece);
    void answerReady(int requestId, const QJsonObject& answer, const QStringList& notes);
    void failed(int requestId, const QString& message, bool cancelled);

  private:
    std::atomic<bool> m_cancel{false};
    // The engine, the last studies and their encodings stay between questions, so a
    // follow-up on the open study skips loading and encoding it again.
    std::shared_ptr<AskContext> m_context;
};

// Owns the worker and its thread: quit() + wait() on destruction (Qt's worker-object pattern).
class InferenceThread : public QObject {
    Q_OBJECT
  public:
    explicit InferenceThread(QObject* parent = nullptr);
    ~InferenceThread() override;

    InferenceWorker* worker() const { return m_worker; }
    // The worker's engines and studies, for other services that need the same model (the
    // record's token count) without opening it a second time. Thread-safe.
    const std::shared_ptr<AskContext>& context() const { return m_context; }
    // Queues a question; returns its id (results carry it).
    int ask(const AskRequest& request);
    void cancel();

  signals:
    void requestQueued(int requestId, const consilium::app::AskRequest& request);

  private:
    std::shared_ptr<AskContext> m_context = std::make_shared<AskContext>(2);
    QThread m_thread;
    InferenceWorker* m_worker = nullptr;
    int m_nextId = 1;
};

}  // namespace consilium::app

Q_DECLARE_METATYPE(consilium::app::AskRequest)
