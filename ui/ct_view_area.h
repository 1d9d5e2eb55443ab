// Central CT view area. Paints the viewer frame (axial view with orientation labels and
// the current state) until a study is loaded; the viewer itself paints image buffers that
// app/ prepares from imaging/.
#pragma once

#include <QWidget>

namespace consilium::ui {

class CtViewArea : public QWidget {
    Q_OBJECT
  public:
    explicit CtViewArea(QWidget* parent = nullptr);
    void setMessage(const QString& message);
    QString message() const { return m_message; }

  protected:
    void paintEvent(QPaintEvent* event) override;

  private:
    QString m_message;
};

}  // namespace consilium::ui
