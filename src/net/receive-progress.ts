import type { ReceiverProgress } from '../protocol/receiver.js'
import type { Progress } from './transfer-events.js'

/**
 * A receive's Progress. The receiver's machine counts the messages of the selection on this phone, held
 * before or received, so its total is the old phone's; an app reads `totalMessages` as the messages this
 * receive brings, and a selection already partly here, or a second transfer, brings far fewer. So the
 * total is what this receive brought so far plus what is still to come, and `messages` is what it
 * brought: both reach the same number when it is verified. The media bytes stay the selection's on this
 * phone (held before, or received): an app shows them as the size of what it will hold.
 *
 * One per receive: each session (a reconnect resumes) runs a machine of its own, which takes what an
 * earlier session of this receive brought for held. What earlier sessions brought is carried over, so
 * the count goes on where it stood rather than start again.
 */
export class ReceiveProgress {
  private earlier = 0
  private current?: ReceiverProgress

  of (p: ReceiverProgress): Progress {
    if (this.current !== p) {
      if (this.current !== undefined) this.earlier += this.current.messagesReceived
      this.current = p
    }
    const messages = this.earlier + p.messagesReceived
    return {
      messages,
      totalMessages: messages + Math.max(0, p.totalMessages - p.messages),
      mediaBytes: p.mediaBytes,
      totalMediaBytes: p.totalMediaBytes
    }
  }
}
