// HTTP API client (docs/protocol.md, "HTTP routes"). DOM-free: only fetch.

/**
 * A failed API call, carrying the stable error code from the server's {"error": {code, message, fields?}}
 * body; `fields` maps a body field's name to what is wrong with it, in plain words ({} when none).
 */
export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.fields = fields;
  }
}

/**
 * Sends one JSON request and returns the decoded body (null for 204).
 * Throws ApiError for any non-2xx answer, and with status 0 and code "network" when the server is unreachable.
 */
export async function request(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, "network", "Could not reach the server.");
  }
  const data = await readJson(response);
  if (!response.ok) {
    const error = data && typeof data.error === "object" ? data.error : {};
    throw new ApiError(
      response.status,
      error.code ?? `http_${response.status}`,
      error.message ?? `The server answered ${response.status} ${response.statusText}.`.trim(),
      error.fields && typeof error.fields === "object" ? error.fields : {},
    );
  }
  return data;
}

async function readJson(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const idPath = (prefix, id) => `${prefix}/${encodeURIComponent(id)}`;

export const login = (username, password) =>
  request("POST", "/api/auth/login", { username, password }).then((d) => d.user);
export const logout = () => request("POST", "/api/auth/logout");
export const getMe = () => request("GET", "/api/me").then((d) => d.user);

export const listUsers = () => request("GET", "/api/users").then((d) => d.users);
export const createUser = (fields) => request("POST", "/api/users", fields).then((d) => d.user);
export const updateUser = (id, fields) => request("PATCH", idPath("/api/users", id), fields).then((d) => d.user);
export const deleteUser = (id) => request("DELETE", idPath("/api/users", id));
/** Up to 20 users whose names hold every word of `query`, of one of `roles` if given (teachers, admins). */
export function searchDirectory(query, roles = []) {
  const params = new URLSearchParams({ q: query });
  for (const role of roles) params.append("role", role);
  return request("GET", `/api/users/directory?${params}`).then((d) => d.users);
}

export const listClassrooms = () => request("GET", "/api/classrooms").then((d) => d.classrooms);
export const getClassroom = (id) => request("GET", idPath("/api/classrooms", id)).then((d) => d.classroom);
export const createClassroom = (fields) =>
  request("POST", "/api/classrooms", fields).then((d) => d.classroom);
export const updateClassroom = (id, fields) =>
  request("PATCH", idPath("/api/classrooms", id), fields).then((d) => d.classroom);
export const deleteClassroom = (id) => request("DELETE", idPath("/api/classrooms", id));

export const listRecordings = () => request("GET", "/api/recordings").then((d) => d.recordings);
export const getRecording = (id) => request("GET", idPath("/api/recordings", id)).then((d) => d.recording);
export const updateRecording = (id, fields) =>
  request("PATCH", idPath("/api/recordings", id), fields).then((d) => d.recording);
export const deleteRecording = (id) => request("DELETE", idPath("/api/recordings", id));
export const recordingMediaUrl = (id, { download = false } = {}) =>
  `${idPath("/api/recordings", id)}/media${download ? "?download=1" : ""}`;
export const recordingThumbnailUrl = (id) => `${idPath("/api/recordings", id)}/thumbnail`;

/** REC: the robot joins the classroom; resolves to the new Recording (state "starting"). */
export const startRecording = (classroomId) =>
  request("POST", `${idPath("/api/classrooms", classroomId)}/recording`, {}).then((d) => d.recording);
/** Resolves once the file is finished, to the Recording (state "ready" or "failed"). */
export const stopRecording = (classroomId) =>
  request("POST", `${idPath("/api/classrooms", classroomId)}/recording/stop`).then((d) => d.recording);

export const getSettings = () => request("GET", "/api/me/settings").then((d) => d.settings);
export const updateSettings = (fields) => request("PATCH", "/api/me/settings", fields).then((d) => d.settings);
