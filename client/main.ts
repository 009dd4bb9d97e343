import { createApp } from 'vue';
import { createPinia } from 'pinia';
import urql from '@urql/vue';
import App from './App.vue';
import { readSettings } from './lib/settings.ts';
import { createAppRouter } from './router.ts';
import { useConnectionStore } from './stores/connection.ts';
import { useExecutionsStore } from './stores/executions.ts';
import './styles/main.css';

const app = createApp(App);
const pinia = createPinia();
app.use(pinia);

const connection = useConnectionStore(pinia);
// Same origin: the server serves this app at / and the API at /graphql (HTTP and WebSocket).
// The token (when the server asks for one) comes from the auth store, for requests and the socket.
const { keepAliveMs, pongTimeoutMs } = readSettings();
connection.connect({ url: '/graphql', keepAliveMs, pongTimeoutMs });
app.use(urql, connection.client());
app.use(createAppRouter());

// Ask the server what is running and follow it, whatever view the app opens on.
void useExecutionsStore(pinia).start();

app.mount('#app');
