// web/js/protocol.js against a running `aula serve` (tests/test_web_protocol_live.py starts it and reads
// what this prints): a teacher and a student join one classroom, the student chats, raises a hand and sends
// what the server refuses, a third connection watches the classrooms, and the student leaves.
// Environment: AULA_URL, AULA_TEACHER_COOKIE, AULA_STUDENT_COOKIE, AULA_CLASSROOM_ID.
// Prints one JSON object: the acks and events as received (or {"error": ...}, exit status 1).
import { io } from "socket.io-client";
import { ClassroomConnection, NAMESPACE, ProtocolError } from "../../js/protocol.js";

const WAIT_MS = 10000;
const url = process.env.AULA_URL;
const classroomId = Number(process.env.AULA_CLASSROOM_ID);

/** One browser's socket, as the page makes it, with the session cookie and the server's own origin. */
function connect(cookie) {
  const socket = io(`${url}${NAMESPACE}`, {
    transports: ["websocket"],
    extraHeaders: { Cookie: cookie, Origin: url },
    reconnection: false,
  });
  return new ClassroomConnection(socket, { ackTimeoutMs: WAIT_MS });
}

/** The first `event` on `connection` whose payload satisfies `match`; listen before causing it. */
function next(connection, event, match = () => true) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${event} within ${WAIT_MS} ms`));
    }, WAIT_MS);
    const off = connection.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** What a refused request rejects with: a ProtocolError naming the code and the event. */
async function refusal(request) {
  try {
    return { resolved: await request() };
  } catch (err) {
    return { protocol_error: err instanceof ProtocolError, code: err.code, event: err.event, message: err.message };
  }
}

async function session() {
  const teacher = connect(process.env.AULA_TEACHER_COOKIE);
  const student = connect(process.env.AULA_STUDENT_COOKIE);
  const watcher = connect(process.env.AULA_TEACHER_COOKIE);
  const stranger = connect(process.env.AULA_STUDENT_COOKIE);
  const seen = {};
  try {
    seen.teacher_join = await teacher.join(classroomId);

    const joined = next(teacher, "participant_joined");
    seen.student_join = await student.join(classroomId);
    seen.participant_joined = await joined;

    const chatted = next(teacher, "chat");
    seen.chat_ack = await student.chat("Good morning, Miss!");
    seen.chat_event = await chatted;

    const handRaised = next(teacher, "participant_updated", ({ participant }) => participant.hand_raised);
    seen.hand_ack = await student.hand(true);
    seen.hand_event = await handRaised;

    const errorEvent = next(student, "error");
    const tooLong = "x".repeat(seen.student_join.limits.chat_max_length + 1);
    seen.too_long_chat = await refusal(() => student.chat(tooLong));
    seen.error_event = await errorEvent;
    seen.student_removes_teacher = await refusal(() => student.remove(seen.teacher_join.self.user_id));
    seen.unknown_classroom = await refusal(() => stranger.join(999999));
    // A payload the module never sends (it sends booleans): the server's types refuse it all the same.
    seen.hand_as_string = await student.socket.timeout(WAIT_MS).emitWithAck("hand", { raised: "yes" });

    seen.watch_ack = await watcher.watchClassrooms();
    const status = next(watcher, "classroom_status");
    const left = next(teacher, "participant_left");
    seen.leave_ack = await student.leave();
    seen.participant_left = await left;
    seen.classroom_status = await status;
    return seen;
  } finally {
    for (const connection of [teacher, student, watcher, stranger]) connection.close();
  }
}

try {
  console.log(JSON.stringify(await session()));
  process.exit(0);
} catch (err) {
  console.log(JSON.stringify({ error: `${err.name}: ${err.message}`, code: err.code ?? null }));
  process.exit(1);
}
